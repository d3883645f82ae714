"""The LLM layer: one OpenAI-compatible chat client for vLLM, llama.cpp and tests.

* :class:`OpenAICompatibleChat`: the LangChain chat model (sync, async, SSE streaming,
  usage and latency per call, bounded retries, native tools when the server has them).
* :func:`call_structured`: a validated pydantic object from the model through a JSON
  schema ``response_format``, with one repair attempt, else :class:`LLMOutputError`.
* :class:`LocalModelServer` / :func:`resolve_model_file`: the embedded llama.cpp model.
* :func:`open_llm_backend`: settings to a ready chat model (embedded or remote).
* :class:`ScriptedChatModel` and :class:`ScriptedOpenAIServer`: test doubles that
  implement the real interfaces (``agent.llm.scripted``, ``agent.llm.scripted_server``).

Errors are described in :mod:`agent.llm.errors`.
"""

from agent.llm.backend import LLMBackend, open_llm_backend
from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.endpoint import EndpointInfo, model_takes_images, probe_endpoint
from agent.llm.errors import (
    LLMError,
    LLMOutputError,
    LLMRequestError,
    LLMUnavailable,
    LocalModelCorrupt,
    LocalModelError,
    LocalModelMissing,
    LocalRuntimeMissing,
)
from agent.llm.local_models import (
    LOCAL_MODELS,
    LocalModelSpec,
    LocalModelStatus,
    local_model_status,
    resolve_model_file,
)
from agent.llm.local_server import LocalModelServer
from agent.llm.openai_messages import image_part
from agent.llm.scripted import ScriptedChatModel, ScriptExhausted
from agent.llm.structured import (
    CallUsage,
    StructuredResult,
    call_structured,
    json_schema_response_format,
    parse_structured,
)
from agent.llm.thinking import strip_thinking

__all__ = [
    "LOCAL_MODELS",
    "CallUsage",
    "EndpointInfo",
    "LLMBackend",
    "LLMError",
    "LLMOutputError",
    "LLMRequestError",
    "LLMUnavailable",
    "LocalModelCorrupt",
    "LocalModelError",
    "LocalModelMissing",
    "LocalModelServer",
    "LocalModelSpec",
    "LocalModelStatus",
    "LocalRuntimeMissing",
    "OpenAICompatibleChat",
    "ScriptExhausted",
    "ScriptedChatModel",
    "StructuredResult",
    "call_structured",
    "image_part",
    "json_schema_response_format",
    "local_model_status",
    "model_takes_images",
    "open_llm_backend",
    "parse_structured",
    "probe_endpoint",
    "resolve_model_file",
    "strip_thinking",
]

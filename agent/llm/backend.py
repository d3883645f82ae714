"""Settings to a ready chat model: the remote endpoint, or the embedded one started here.

Front ends call :func:`open_llm_backend` once per process (or session) and hand
``backend.model`` to the agent. With ``llm_url`` unset the embedded llama.cpp server is
started for the duration of the ``with`` block; with it set the endpoint is asked which
model it serves (when ``llm_model`` is unset) and whether that model takes images (when
``llm_vision`` is unset). An unreachable endpoint fails here, before any question is
asked, with :class:`~agent.llm.errors.LLMUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agent.config import Settings
from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.endpoint import probe_endpoint
from agent.llm.errors import LLMUnavailable
from agent.llm.local_server import LocalModelServer

__all__ = ["LLMBackend", "open_llm_backend"]

_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LLMBackend:
    """A chat model and what is known about the endpoint behind it.

    Attributes:
        model: The chat model to give the agent.
        base_url: The endpoint (``.../v1``).
        model_name: The model name sent with each request.
        vision: Whether images are sent to the model.
        vision_source: How ``vision`` was decided (for ``doctor`` and logs).
        embedded: True when the embedded llama.cpp server was started for this backend.
    """

    model: OpenAICompatibleChat
    base_url: str
    model_name: str
    vision: bool
    vision_source: str
    embedded: bool


@contextmanager
def open_llm_backend(settings: Settings) -> Iterator[LLMBackend]:
    """Yield the chat model selected by ``settings``; stops the embedded server on exit.

    Raises:
        LLMUnavailable: The endpoint is unreachable or serves no model.
        LocalModelError: The embedded model cannot be started (message says how to fix).
    """
    if settings.llm_url is None:
        with LocalModelServer(settings) as server:
            yield LLMBackend(
                model=_chat(settings, server.base_url, server.model_name, vision=False),
                base_url=server.base_url,
                model_name=server.model_name,
                # The packaged GGUF models are text-only (no multimodal projector).
                vision=False,
                vision_source="embedded text-only model",
                embedded=True,
            )
        return

    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    name = settings.llm_model
    vision = settings.llm_vision
    source = "EHR_AGENT_LLM_VISION"
    if name is None or vision is None:
        info = probe_endpoint(
            settings.llm_url, api_key=api_key, timeout=_PROBE_TIMEOUT_S, model=name
        )
        if name is None:
            if not info.models:
                raise LLMUnavailable(
                    f"the model endpoint at {settings.llm_url} serves no model",
                    url=settings.llm_url,
                )
            name = info.models[0]
        if vision is None:
            vision, source = bool(info.vision), info.vision_source
    yield LLMBackend(
        model=_chat(settings, settings.llm_url, name, vision=vision),
        base_url=settings.llm_url,
        model_name=name,
        vision=vision,
        vision_source=source,
        embedded=False,
    )


def _chat(settings: Settings, base_url: str, model: str, *, vision: bool) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(
        base_url=base_url,
        model=model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        temperature=settings.llm_temperature,
        vision=vision,
    )

"""One LangChain chat model for every backend that speaks the OpenAI chat API.

vLLM serving MedGemma on a GPU cluster, the embedded llama.cpp server on a laptop and the
scripted server in tests are all reached through :class:`OpenAICompatibleChat`, so the
agent runs the same code path everywhere. Streaming uses server-sent events, which lets
LangGraph's ``stream_mode="messages"`` pass tokens on to front ends as they arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, SecretStr

from agent.llm.errors import LLMUnavailable
from agent.llm.openai_messages import WireMessages, folds_system_prompt, to_openai_messages
from agent.llm.thinking import ThinkingFilter, strip_thinking
from agent.llm.transport import ChatTransport

__all__ = ["OpenAICompatibleChat"]


class OpenAICompatibleChat(BaseChatModel):
    """Chat model for any server with an OpenAI-compatible ``/chat/completions``.

    Every call reports token usage on ``AIMessage.usage_metadata`` and, on
    ``AIMessage.response_metadata``: ``model`` / ``model_name`` (as served),
    ``latency_s``, ``finish_reason``, ``images_sent`` and ``images_dropped``.

    Keyword arguments bound with ``.bind(...)`` or passed to ``invoke`` go into the
    request body (``response_format``, ``max_tokens``, ``seed``, ...); ``extra_body``
    entries are merged last, for server-specific options such as vLLM's
    ``structured_outputs``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str = Field(description="Base URL ending in /v1, e.g. http://gpu-node:8000/v1.")
    model: str = Field(description="Model name sent in each request (vLLM's served name).")
    api_key: SecretStr | None = Field(None, description="Bearer key for the endpoint.")
    timeout: float = Field(300.0, gt=0, description="Seconds allowed for one response.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds allowed to connect.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on connect errors/429/5xx.")
    retry_backoff: float = Field(0.5, ge=0, description="Base backoff between retries (s).")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(
        4096,
        ge=1,
        description="Cap on generated tokens. Guided JSON decoding can loop on whitespace "
        "with Gemma models, so a cap is kept by default.",
    )
    vision: bool | None = Field(
        None,
        description="Whether the model takes images. Unknown (None) is treated as no: "
        "images are replaced by a note saying they were omitted.",
    )
    system_prompt_mode: Literal["auto", "native", "fold"] = Field(
        "auto",
        description="'fold' puts system prompts into the first user turn (Gemma has no "
        "system role); 'auto' folds for Gemma/MedGemma model names.",
    )
    remove_thinking: bool = Field(
        True, description="Strip thinking blocks (MedGemma <unused94>..<unused95>)."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra request fields, merged last."
    )
    transport: httpx.BaseTransport | None = Field(
        None, exclude=True, description="httpx transport for sync calls (tests)."
    )
    async_transport: httpx.AsyncBaseTransport | None = Field(
        None, exclude=True, description="httpx transport for async calls (tests)."
    )

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    @property
    def folds_system_prompt(self) -> bool:
        """Whether system prompts are folded into the first user turn for this model."""
        if self.system_prompt_mode == "auto":
            return folds_system_prompt(self.model)
        return self.system_prompt_mode == "fold"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer native tools (the OpenAI ``tools`` parameter) to the model.

        Only for servers whose chat template supports tool calls (vLLM needs
        ``--enable-auto-tool-choice`` and a ``--tool-call-parser``). MedGemma's template
        has none; there the agent chooses tools through JSON-schema output instead.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = _tool_choice(tool_choice)
        return self.bind(tools=formatted, **kwargs)

    # ----- LangChain hooks ------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        payload, wire = self._payload(messages, stop, kwargs, stream=False)
        started = time.perf_counter()
        body = self._transport().post_json("chat/completions", payload)
        return self._result(body, wire, time.perf_counter() - started)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        payload, wire = self._payload(messages, stop, kwargs, stream=False)
        started = time.perf_counter()
        body = await self._transport().apost_json("chat/completions", payload)
        return self._result(body, wire, time.perf_counter() - started)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        payload, wire = self._payload(messages, stop, kwargs, stream=True)
        assembler = _StreamAssembler(self, wire, time.perf_counter())
        for event in self._transport().stream_events("chat/completions", payload):
            yield from assembler.feed(event)
        yield from assembler.finish()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        payload, wire = self._payload(messages, stop, kwargs, stream=True)
        assembler = _StreamAssembler(self, wire, time.perf_counter())
        async for event in self._transport().astream_events("chat/completions", payload):
            for chunk in assembler.feed(event):
                yield chunk
        for chunk in assembler.finish():
            yield chunk

    # ----- request and response -------------------------------------------------------

    def _transport(self) -> ChatTransport:
        return ChatTransport(
            self.base_url,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            max_retries=self.max_retries,
            backoff=self.retry_backoff,
            transport=self.transport,
            async_transport=self.async_transport,
        )

    def _payload(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool,
    ) -> tuple[dict[str, Any], WireMessages]:
        wire = to_openai_messages(
            messages, vision=bool(self.vision), fold_system=self.folds_system_prompt
        )
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": wire.messages,
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        if stop:
            payload["stop"] = stop
        extra = dict(self.extra_body)
        for key, value in kwargs.items():
            if key == "extra_body":
                extra.update(value or {})
            elif key != "stream" and value is not None:
                payload[key] = value
        payload.update(extra)
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return payload, wire

    def _result(self, body: dict[str, Any], wire: WireMessages, latency: float) -> ChatResult:
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable(
                f"the model endpoint at {self.base_url} returned something that is not a "
                "chat completion",
                url=self.base_url,
            ) from None
        raw = message.get("content") or ""
        content = strip_thinking(raw) if self.remove_thinking else raw
        calls, invalid = _parse_tool_calls(message.get("tool_calls") or [])
        finish_reason = choice.get("finish_reason")
        ai = AIMessage(
            content=content,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=_usage(body.get("usage")),
            response_metadata=self._metadata(body, wire, latency, finish_reason),
        )
        return ChatResult(
            generations=[
                ChatGeneration(message=ai, generation_info={"finish_reason": finish_reason})
            ]
        )

    def _metadata(
        self, body: dict[str, Any], wire: WireMessages, latency: float, finish_reason: Any
    ) -> dict[str, Any]:
        served = body.get("model") or self.model
        return {
            "model": served,
            "model_name": served,
            "latency_s": round(latency, 3),
            "finish_reason": finish_reason,
            "images_sent": wire.images_sent,
            "images_dropped": wire.images_dropped,
        }


class _StreamAssembler:
    """Turns server-sent chat-completion chunks into LangChain generation chunks."""

    def __init__(self, model: OpenAICompatibleChat, wire: WireMessages, started: float) -> None:
        self._model = model
        self._wire = wire
        self._started = started
        self._filter = ThinkingFilter() if model.remove_thinking else None
        self._usage: dict[str, Any] | None = None
        self._finish_reason: Any = None
        self._served: str | None = None

    def feed(self, event: dict[str, Any]) -> Iterator[ChatGenerationChunk]:
        self._served = event.get("model") or self._served
        if event.get("usage"):
            self._usage = event["usage"]
        for choice in event.get("choices") or []:
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            text = delta.get("content") or ""
            if self._filter is not None:
                text = self._filter.feed(text)
            chunks = [
                tool_call_chunk(
                    name=(call.get("function") or {}).get("name"),
                    args=(call.get("function") or {}).get("arguments"),
                    id=call.get("id"),
                    index=call.get("index"),
                )
                for call in delta.get("tool_calls") or []
            ]
            if text or chunks:
                yield ChatGenerationChunk(
                    message=AIMessageChunk(content=text, tool_call_chunks=chunks)
                )

    def finish(self) -> Iterator[ChatGenerationChunk]:
        tail = self._filter.flush() if self._filter is not None else ""
        latency = time.perf_counter() - self._started
        body = {"model": self._served} if self._served else {}
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=tail,
                usage_metadata=_usage(self._usage),
                response_metadata=self._model._metadata(
                    body, self._wire, latency, self._finish_reason
                ),
            ),
            generation_info={"finish_reason": self._finish_reason},
        )


def _usage(usage: dict[str, Any] | None) -> UsageMetadata:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=total)


def _parse_tool_calls(raw: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    calls: list[Any] = []
    invalid: list[Any] = []
    for item in raw:
        function = item.get("function") or {}
        name = function.get("name")
        arguments = function.get("arguments") or "{}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as exc:
            invalid.append(
                invalid_tool_call(name=name, args=arguments, id=item.get("id"), error=str(exc))
            )
            continue
        if not isinstance(args, dict) or not name:
            invalid.append(
                invalid_tool_call(
                    name=name,
                    args=json.dumps(args),
                    id=item.get("id"),
                    error="tool call without a name or with non-object arguments",
                )
            )
            continue
        calls.append(tool_call(name=name, args=args, id=item.get("id")))
    return calls, invalid


def _tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, dict):
        return choice
    if choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}

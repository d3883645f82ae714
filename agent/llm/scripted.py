"""A chat model that replies from a script, for tests of the agent graph.

:class:`ScriptedChatModel` subclasses LangChain's real ``BaseChatModel`` (as langgraph's
own ``tests/model.py`` does), so graphs, callbacks and streaming treat it exactly like
:class:`~agent.llm.chat_model.OpenAICompatibleChat`. Each call consumes the next step
of the script:

* a string: the reply text;
* an ``AIMessage``: returned as is (for example with ``tool_calls``);
* a callable: called with the messages received, returns a string or an ``AIMessage``;
* an exception instance: raised, to simulate an outage or a refused request.

It records every conversation it receives (``received``) and the keyword arguments of
each call (``call_kwargs``, e.g. ``response_format``), and reports usage estimated at
four characters per token so budget accounting can be tested.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

__all__ = ["ReplyingChatModel", "ScriptExhausted", "ScriptStep", "ScriptedChatModel"]

ScriptStep = str | AIMessage | Callable[[list[BaseMessage]], "str | AIMessage"] | BaseException


class ScriptExhausted(AssertionError):
    """The model was called more often than its script allows (a test bug)."""


class ReplyingChatModel(BaseChatModel):
    """A ``BaseChatModel`` whose reply is computed in this process, without a server.

    Subclasses implement :meth:`_reply`; this class turns it into LangChain's call and
    streaming interfaces (the reply streamed in word pieces, tool calls as chunks), and
    adds usage (estimated at four characters per token unless the reply has its own) and
    the response metadata the agent reads from a real model.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str = Field("scripted", description="Reported as the served model name.")
    latency_s: float = Field(0.0, ge=0, description="Latency reported per call.")

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str | AIMessage:
        """The reply to one call (``kwargs`` holds e.g. ``response_format``)."""
        raise NotImplementedError

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools like a real model would send them; replies stay computed."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._respond(messages, kwargs)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._respond(messages, kwargs)
        words = reply.text.split(" ")
        for index, word in enumerate(words):
            piece = word if index == len(words) - 1 else word + " "
            if piece:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {
                        "name": call["name"],
                        "args": json.dumps(call["args"]),
                        "id": call.get("id"),
                        "index": i,
                        "type": "tool_call_chunk",
                    }
                    for i, call in enumerate(reply.tool_calls)
                ],
                usage_metadata=reply.usage_metadata,
                response_metadata=reply.response_metadata,
            )
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop, None, **kwargs):
            yield chunk

    def _respond(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        step = self._reply(messages, kwargs)
        reply = AIMessage(content=step) if isinstance(step, str) else step
        if not isinstance(reply, AIMessage):
            raise TypeError(f"the reply is {type(reply).__name__}, not str/AIMessage")
        return reply.model_copy(
            update={
                "usage_metadata": reply.usage_metadata or _estimate_usage(messages, reply.text),
                "response_metadata": {
                    "model": self.model_name,
                    "model_name": self.model_name,
                    "latency_s": self.latency_s,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    "images_sent": 0,
                    "images_dropped": 0,
                    **reply.response_metadata,
                },
            }
        )


class ScriptedChatModel(ReplyingChatModel):
    """Replies from a fixed script; records what it was asked."""

    script: list[Any] = Field(default_factory=list, description="Steps, consumed in order.")
    received: list[list[BaseMessage]] = Field(
        default_factory=list, description="The messages of each call, in order."
    )
    call_kwargs: list[dict[str, Any]] = Field(
        default_factory=list, description="The keyword arguments of each call."
    )
    _position: int = PrivateAttr(0)

    @classmethod
    def from_steps(cls, *steps: ScriptStep, **fields: Any) -> ScriptedChatModel:
        """Build a model whose script is ``steps``."""
        return cls(script=list(steps), **fields)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> int:
        """How many calls were made."""
        return len(self.received)

    @property
    def remaining(self) -> int:
        """Steps not yet consumed."""
        return len(self.script) - self._position

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str | AIMessage:
        self.received.append(list(messages))
        self.call_kwargs.append(dict(kwargs))
        if self._position >= len(self.script):
            raise ScriptExhausted(
                f"ScriptedChatModel was called {len(self.received)} times but its script has "
                f"{len(self.script)} steps"
            )
        step = self.script[self._position]
        self._position += 1
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, AIMessage):
            step = step(list(messages))
        if not isinstance(step, str | AIMessage):
            raise TypeError(f"script step produced {type(step).__name__}, not str/AIMessage")
        return step


def _estimate_usage(messages: list[BaseMessage], reply: str) -> UsageMetadata:
    prompt_chars = sum(len(message.text) for message in messages)
    prompt = max(1, (prompt_chars + 3) // 4)
    completion = max(1, (len(reply) + 3) // 4)
    return UsageMetadata(
        input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
    )

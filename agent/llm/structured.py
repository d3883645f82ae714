"""Structured output: a pydantic object from the model, or a clear error.

The request carries ``response_format={"type": "json_schema", ...}``, which vLLM turns
into guided decoding and llama.cpp into a grammar, so a capable server returns JSON of
the right shape. The reply is still checked here: thinking blocks are removed, a
```` ```json ```` fence is tolerated, and pydantic validates the object. If that fails
the model gets exactly one chance to repair its output (it is shown its answer and the
validation error); a second failure raises :class:`~agent.llm.errors.LLMOutputError`.
Nothing is ever made up in place of the model's answer.

This is how MedGemma chooses tools: its chat template has no tool-call format.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from agent.llm.errors import LLMOutputError
from agent.llm.thinking import strip_thinking

__all__ = [
    "JSON_REPAIR_PROMPT",
    "JSON_SCHEMA_HINT",
    "CallUsage",
    "StructuredResult",
    "call_structured",
    "json_schema_response_format",
    "parse_structured",
]

T = TypeVar("T", bound=BaseModel)

JSON_SCHEMA_HINT = (
    "Reply with one JSON object and nothing else. It must match this JSON Schema:\n{schema}"
)
JSON_REPAIR_PROMPT = (
    "Your previous reply could not be used: {error}\n"
    "Reply again with only the corrected JSON object, matching the schema exactly. "
    "No explanations, no code fences."
)

_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?```$", re.DOTALL)
_ERROR_LIMIT = 6


@dataclass(frozen=True)
class CallUsage:
    """Tokens and time spent on one structured call (summed over a repair)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float


@dataclass(frozen=True)
class StructuredResult(Generic[T]):
    """A validated structured reply.

    Attributes:
        value: The parsed, validated object.
        raw_text: The model's reply as received (thinking included). May hold patient
            data: never log it.
        usage: Calls, tokens and seconds spent, including a repair attempt.
        repaired: Whether the first reply was invalid and the repair succeeded.
    """

    value: T
    raw_text: str
    usage: CallUsage
    repaired: bool


def json_schema_response_format(
    schema: type[BaseModel], *, name: str, strict: bool = True
) -> dict[str, Any]:
    """The OpenAI ``response_format`` asking for JSON that matches ``schema``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": _json_schema(schema), "strict": strict},
    }


@functools.lru_cache(maxsize=512)
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    # Generating a JSON schema costs about a millisecond and schemas repeat across
    # questions. The cached dict is shared: it is serialised into requests, never changed.
    return schema.model_json_schema()


def parse_structured(text: str, schema: type[T]) -> T:
    """Parse a model reply into ``schema``.

    Thinking blocks and one surrounding Markdown code fence are removed first.

    Raises:
        ValueError: The text is not JSON, or does not validate (message has no values).
    """
    cleaned = strip_thinking(text).strip()
    fenced = _FENCE.match(cleaned)
    if fenced:
        cleaned = fenced.group(1).strip()
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg} at position {exc.pos})") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_describe_validation(exc)) from None


async def call_structured(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: type[T],
    *,
    name: str,
    schema_hint: bool = True,
    repair_prompt: str = JSON_REPAIR_PROMPT,
) -> StructuredResult[T]:
    """Ask ``model`` for a reply matching ``schema`` and return it validated.

    Args:
        model: Any LangChain chat model; keyword ``response_format`` is bound to the call.
        messages: The conversation to answer.
        schema: Pydantic model of the expected object; its field descriptions are the
            instructions the model reads.
        name: Name of the output (``json_schema.name``), e.g. ``"plan"``.
        schema_hint: Also state the schema in the prompt (a final user message), for
            servers that ignore ``response_format`` and for small models.
        repair_prompt: Template for the repair request; ``{error}`` is filled in.

    Returns:
        The parsed object with the raw text and the usage of the call(s).

    Raises:
        LLMOutputError: The reply was invalid twice.
        LLMUnavailable: The endpoint failed (propagated untouched).
        LLMRequestError: The server refused the request (propagated untouched).
    """
    bound = model.bind(response_format=json_schema_response_format(schema, name=name))
    conversation = list(messages)
    if schema_hint:
        schema_text = json.dumps(schema.model_json_schema(), separators=(",", ":"))
        conversation.append(HumanMessage(JSON_SCHEMA_HINT.format(schema=schema_text)))
    calls: list[AIMessage] = []

    first = await _ainvoke(bound, conversation)
    calls.append(first)
    try:
        value = parse_structured(first.text, schema)
        return StructuredResult(value, first.text, _sum_usage(calls), repaired=False)
    except ValueError as exc:
        first_error = str(exc)

    repair = [
        *conversation,
        AIMessage(first.text),
        HumanMessage(repair_prompt.format(error=first_error)),
    ]
    second = await _ainvoke(bound, repair)
    calls.append(second)
    try:
        value = parse_structured(second.text, schema)
    except ValueError as exc:
        raise LLMOutputError(
            f"the model did not produce a valid {name!r} object after one repair attempt: {exc}",
            schema_name=name,
            raw_text=second.text,
        ) from None
    return StructuredResult(value, second.text, _sum_usage(calls), repaired=True)


async def _ainvoke(model: Any, messages: list[BaseMessage]) -> AIMessage:
    reply = await model.ainvoke(messages)
    if not isinstance(reply, AIMessage):
        raise TypeError(f"chat model returned {type(reply).__name__}, expected AIMessage")
    return reply


def _sum_usage(calls: list[AIMessage]) -> CallUsage:
    prompt = completion = 0
    seconds = 0.0
    for call in calls:
        usage: dict[str, Any] = dict(call.usage_metadata or {})
        prompt += int(usage.get("input_tokens", 0))
        completion += int(usage.get("output_tokens", 0))
        seconds += float(call.response_metadata.get("latency_s", 0.0))
    return CallUsage(len(calls), prompt, completion, round(seconds, 3))


def _describe_validation(exc: ValidationError) -> str:
    # Locations and messages only: input values could be patient data.
    problems = []
    for error in exc.errors(include_input=False, include_url=False)[:_ERROR_LIMIT]:
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{location}: {error['msg']}")
    more = exc.error_count() - _ERROR_LIMIT
    if more > 0:
        problems.append(f"and {more} more")
    return "the JSON does not match the schema: " + "; ".join(problems)

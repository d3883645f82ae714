"""LangChain messages to the OpenAI chat-completions wire format.

Two things depend on the model behind the endpoint:

* **System prompts.** Gemma (and so MedGemma) has no system role. Its Hugging Face chat
  template, which vLLM applies, prepends the system text plus a blank line to the first
  user turn and requires strict user/model alternation; other servers may reject a
  system message for Gemma outright. ``fold_system=True`` does the same folding here,
  merges consecutive turns of the same role and turns tool results into user text, so
  the request is valid under Gemma's template on any server.
* **Images.** Image parts are sent (as ``image_url`` parts with ``data:`` URLs) only when
  the backend declares vision. Otherwise each message's images are replaced by one text
  part saying they were omitted, so the model knows evidence existed that it could not
  see and a text-only model still answers from the text. (Raising instead would turn
  every question that touches an imaging study into an error on a text-only model.)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

__all__ = [
    "IMAGES_OMITTED_NOTE",
    "WireMessages",
    "folds_system_prompt",
    "image_part",
    "to_openai_messages",
]

IMAGES_OMITTED_NOTE = (
    "[{count} image(s) omitted: the model at this endpoint does not accept images; "
    "answer from the text only.]"
)


@dataclass(frozen=True)
class WireMessages:
    """Messages ready for the ``messages`` field of a chat-completions request.

    Attributes:
        messages: The OpenAI-format message dicts.
        images_sent: Image parts included in the request.
        images_dropped: Image parts removed because the backend has no vision.
    """

    messages: list[dict[str, Any]]
    images_sent: int
    images_dropped: int


def folds_system_prompt(model_name: str) -> bool:
    """Whether a model's chat template lacks a system role (Gemma and MedGemma)."""
    return "gemma" in model_name.lower()


def image_part(data: bytes, mime_type: str = "image/png") -> dict[str, Any]:
    """A message content part carrying an image as a ``data:`` URL."""
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime_type};base64,{encoded}"}}


def to_openai_messages(
    messages: Sequence[BaseMessage], *, vision: bool, fold_system: bool
) -> WireMessages:
    """Convert LangChain messages to OpenAI chat-completions messages.

    Args:
        messages: The conversation, oldest first.
        vision: Whether the backend takes images; when false images are dropped.
        fold_system: Fold system prompts into the first user turn (Gemma templates).

    Returns:
        The wire messages and how many images were sent or dropped.

    Raises:
        ValueError: A message holds a content part this layer does not know.
    """
    counter = _ImageCounter(vision=vision)
    wire = [_convert(message, counter, fold_system=fold_system) for message in messages]
    if fold_system:
        wire = _fold(wire)
    return WireMessages(wire, counter.sent, counter.dropped)


class _ImageCounter:
    def __init__(self, *, vision: bool) -> None:
        self.vision = vision
        self.sent = 0
        self.dropped = 0


def _convert(message: BaseMessage, counter: _ImageCounter, *, fold_system: bool) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _content(message.content, counter)}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _content(message.content, counter)}
    if isinstance(message, AIMessage):
        return _assistant(message, counter, fold_system=fold_system)
    if isinstance(message, ToolMessage):
        text = _text_only(_content(message.content, counter))
        if fold_system:
            label = message.name or message.tool_call_id
            return {"role": "user", "content": f"Result of tool {label}:\n{text}"}
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": text}
    if isinstance(message, FunctionMessage):
        text = _text_only(_content(message.content, counter))
        return {"role": "user", "content": f"Result of tool {message.name}:\n{text}"}
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": _content(message.content, counter)}
    raise ValueError(f"unsupported message type {type(message).__name__}")


def _assistant(message: AIMessage, counter: _ImageCounter, *, fold_system: bool) -> dict[str, Any]:
    content = _text_only(_content(message.content, counter))
    if not message.tool_calls:
        return {"role": "assistant", "content": content}
    calls: list[dict[str, Any]] = [
        {
            "id": call.get("id") or f"call_{index}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
        }
        for index, call in enumerate(message.tool_calls)
    ]
    if fold_system:
        # Gemma's template has no tool-call syntax: show the calls as text instead.
        described = "\n".join(
            f"Calling tool {c['function']['name']} with {c['function']['arguments']}" for c in calls
        )
        return {"role": "assistant", "content": "\n".join(p for p in (content, described) if p)}
    return {"role": "assistant", "content": content or None, "tool_calls": calls}


def _content(content: str | list[Any], counter: _ImageCounter) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    dropped = 0
    for item in content:
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
            continue
        kind = item.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": item["text"]})
        elif kind in ("image_url", "image"):
            if counter.vision:
                parts.append({"type": "image_url", "image_url": {"url": _image_url(item)}})
                counter.sent += 1
            else:
                dropped += 1
        else:
            raise ValueError(f"unsupported message content part of type {kind!r}")
    if dropped:
        counter.dropped += dropped
        parts.append({"type": "text", "text": IMAGES_OMITTED_NOTE.format(count=dropped)})
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _image_url(item: dict[str, Any]) -> str:
    if item.get("type") == "image_url":
        value = item["image_url"]
        return str(value["url"] if isinstance(value, dict) else value)
    # LangChain standard image blocks, v0.3 ("source_type") and v1 ("base64"/"url").
    if "url" in item:
        return str(item["url"])
    data = item.get("base64") or item.get("data")
    if data is None:
        raise ValueError("image content part has neither a url nor base64 data")
    mime = item.get("mime_type") or "image/png"
    return f"data:{mime};base64,{data}"


def _text_only(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part["type"] == "text")


def _fold(wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
    system_texts = [_text_only(m["content"]) for m in wire if m["role"] == "system"]
    turns: list[dict[str, Any]] = []
    for message in wire:
        if message["role"] == "system":
            continue
        if turns and turns[-1]["role"] == message["role"]:
            turns[-1] = {
                "role": message["role"],
                "content": _join(turns[-1]["content"], message["content"]),
            }
        else:
            turns.append(dict(message))
    prefix = "\n\n".join(text for text in system_texts if text)
    if prefix:
        if turns and turns[0]["role"] == "user":
            turns[0]["content"] = _join(prefix, turns[0]["content"])
        else:
            turns.insert(0, {"role": "user", "content": prefix})
    return turns


def _join(
    first: str | list[dict[str, Any]] | None, second: str | list[dict[str, Any]] | None
) -> str | list[dict[str, Any]]:
    if first is None or first == "":
        return second or ""
    if second is None or second == "":
        return first
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}"

    def as_parts(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"type": "text", "text": value}] if isinstance(value, str) else list(value)

    return [*as_parts(first), *as_parts(second)]

"""Structured LLM outputs: the plan and the answer. Field descriptions are prompt text.

A planned call is one flat object (tool name plus every argument any tool takes) rather
than a union of per-tool objects: grammar-constrained decoding of a flat object is
reliable even for small models, and each tool's own argument model then validates what it
needs (unknown or missing arguments come back to the model as a fixable error).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from tools.evidence.args import SearchableType

__all__ = ["ANSWER_TYPES", "Answer", "Plan", "PlannedCall", "answer_model", "call_arguments"]

AnswerType = Literal["yes_no", "number", "date", "choice", "set", "text"]
ANSWER_TYPES: tuple[str, ...] = AnswerType.__args__  # type: ignore[attr-defined]

ToolName = Literal["search", "observation_series", "timeline", "read", "images", "view_image"]


_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class PlannedCall(BaseModel):
    """One tool call the model wants made."""

    model_config = ConfigDict(extra="ignore")

    tool: ToolName = Field(description="Which tool to call.")
    type: SearchableType | None = Field(None, description="search: the resource type.")
    concept: str | None = Field(
        None,
        max_length=80,
        description="search/observation_series: what to look for, in words or a code.",
    )
    date_from: str | None = Field(None, pattern=_DAY, description="Earliest date, YYYY-MM-DD.")
    date_to: str | None = Field(None, pattern=_DAY, description="Latest date, YYYY-MM-DD.")
    status: str | None = Field(
        None, max_length=20, description="search: status such as active or resolved."
    )
    ref: str | None = Field(None, max_length=80, description="read/view_image: a handle.")

    def key(self) -> str:
        """A canonical form, to avoid running the same call twice."""
        return self.model_dump_json(exclude_none=True)


class Plan(BaseModel):
    """What to do next."""

    enough: bool = Field(description="true if the evidence shown already answers the question.")
    calls: list[PlannedCall] = Field(
        default_factory=list, max_length=3, description="Tool calls to make (at most 3)."
    )


MAX_ANSWER_CHARS = 700
MAX_CITATIONS = 8


class Answer(BaseModel):
    """The answer with its citations (and, when asked, a typed value)."""

    answer: str = Field(
        max_length=MAX_ANSWER_CHARS,
        description="The answer in one or two sentences, with [handles].",
    )
    citations: list[str] = Field(
        default_factory=list,
        max_length=MAX_CITATIONS,
        description="Handles of the evidence lines the answer rests on.",
    )
    value: Any = Field(None, description="The typed value, when asked for.")
    unit: str | None = Field(None, max_length=30, description="Unit of a numeric value.")


def answer_model(
    answer_type: str | None,
    choices: list[str] | None = None,
    handles: list[str] | None = None,
) -> type[Answer]:
    """The answer schema for a question (one class per distinct set of arguments).

    ``value`` is typed by the answer type, if any; with ``handles``, ``citations`` may only
    hold those handles (see :func:`_answer_model`).
    """
    return _answer_model(
        answer_type,
        tuple(choices) if choices else None,
        tuple(dict.fromkeys(handles)) if handles else None,
    )


@functools.lru_cache(maxsize=512)
def _answer_model(
    answer_type: str | None,
    choices: tuple[str, ...] | None,
    handles: tuple[str, ...] | None,
) -> type[Answer]:
    """The answer schema for a question.

    ``value`` is typed by the answer type, if any. When ``handles`` is given, ``citations``
    may only hold those handles: with grammar-constrained decoding the model cannot cite
    evidence it was never shown (``verify`` still checks). ``answer`` comes first so that a
    streaming reader sees the text before the rest.
    """
    fields: dict[str, Any] = {}
    if handles:
        citation = Literal[handles]  # type: ignore[valid-type]
        fields["citations"] = (
            list[citation],
            Field(
                default_factory=list,
                max_length=MAX_CITATIONS,
                description="Handles of the evidence lines the answer rests on.",
            ),
        )
    if answer_type is None:
        if not fields:
            return Answer
        model: type[Answer] = create_model("AnswerCited", __base__=Answer, **fields)
        return model
    value_type: Any
    if answer_type == "yes_no":
        value_type = Literal["yes", "no"] | None
    elif answer_type == "number":
        value_type = float | None
    elif answer_type == "date":
        value_type = str | None
    elif answer_type == "choice":
        if not choices:
            raise ValueError("a choice question needs its choices")
        value_type = Literal[choices] | None
    elif answer_type == "set":
        value_type = list[str] | None
    elif answer_type == "text":
        value_type = str | None
    else:
        raise ValueError(f"unknown answer type {answer_type!r}; one of {', '.join(ANSWER_TYPES)}")
    description = {
        "yes_no": 'The answer as "yes" or "no".',
        "number": "The answer as a number.",
        "date": "The answer as a date YYYY-MM-DD.",
        "choice": "Exactly one of the offered choices.",
        "set": "The answer as a list of items.",
        "text": "The answer as a short phrase.",
    }[answer_type]
    fields["value"] = (value_type, Field(None, description=description))
    typed: type[Answer] = create_model(f"Answer_{answer_type}", __base__=Answer, **fields)
    return typed


def call_arguments(call: PlannedCall, accepted: set[str]) -> dict[str, Any]:
    """The arguments of ``call`` that its tool accepts (``accepted``: its field names)."""
    return {
        name: value
        for name, value in call.model_dump(exclude_none=True, exclude={"tool"}).items()
        if name in accepted
    }

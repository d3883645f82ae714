"""The API's request and response bodies (their JSON schemas are the OpenAPI document)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.cli_common import DISCLAIMER

__all__ = [
    "MAX_QUESTION_CHARS",
    "AnswerType",
    "AskRequest",
    "AskResponse",
    "Citation",
    "ErrorBody",
    "Health",
    "Readiness",
    "ReadinessCheck",
    "SessionTurn",
    "SessionView",
    "UsageBody",
]

#: Hard ceiling of a question; the configured limit (``max_question_chars``) is at most this
#: and is what the served OpenAPI document shows.
MAX_QUESTION_CHARS = 20_000

AnswerType = Literal["yes_no", "number", "date", "choice", "set", "text"]

_SESSION_ID = r"^[0-9a-f]{32}$"


class AskRequest(BaseModel):
    """One question about one patient."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="The question, in plain language.",
        examples=["Has her HbA1c improved since she started metformin?"],
    )
    patient: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="API-key callers: the patient's FHIR id, or words of the name (required). "
        "SMART callers: optional; if given it must be the id of the token's patient "
        "(`123` or `Patient/123`), anything else is refused with 403.",
    )
    session_id: str | None = Field(
        None,
        pattern=_SESSION_ID,
        description="Continue this conversation (a `session_id` returned earlier to the same "
        "caller). Omit to start a new one.",
    )
    as_of: date | None = Field(
        None, description="Reference date YYYY-MM-DD: later records are ignored. Default today."
    )
    answer_type: AnswerType | None = Field(
        None, description="Also return a typed `value` of this kind."
    )
    choices: list[str] | None = Field(
        None,
        min_length=2,
        max_length=20,
        description="The options of a `choice` question (required with answer_type=choice).",
    )

    @model_validator(mode="after")
    def _choices_match_type(self) -> AskRequest:
        if self.answer_type == "choice" and not self.choices:
            raise ValueError("answer_type 'choice' needs 'choices'")
        if self.choices is not None and self.answer_type != "choice":
            raise ValueError("'choices' are only for answer_type 'choice'")
        if self.choices is not None and any(not c.strip() or len(c) > 200 for c in self.choices):
            raise ValueError("each choice must be 1-200 characters and not blank")
        return self


class Citation(BaseModel):
    """One resource the answer rests on."""

    ref: str = Field(description="`Type/id` of the cited resource.")
    summary: str | None = Field(
        description="One line: what the model read about it (null if not shown this turn)."
    )


class UsageBody(BaseModel):
    """What answering cost."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    fhir_requests: int
    seconds: float


class AskResponse(BaseModel):
    """The answer, with the resources it cites."""

    answer: str = Field(description="The answer text; citations appear as [Type/id].")
    value: Any = Field(
        None, description="The typed value asked for with answer_type (string, number, list)."
    )
    unit: str | None = Field(None, description="Unit of a number value.")
    citations: list[Citation]
    verified: bool = Field(
        description="True when every citation is a resource retrieved for this question."
    )
    usage: UsageBody
    session_id: str = Field(description="Pass it back to ask a follow-up question.")
    patient_id: str = Field(description="The FHIR id of the patient the answer is about.")
    disclaimer: str = Field(DISCLAIMER, description="This is a research tool.")


class SessionTurn(BaseModel):
    """One question of a conversation and its answer."""

    question: str
    answer: str
    citations: list[str] = Field(description="`Type/id` of each cited resource.")


class SessionView(BaseModel):
    """A conversation: its patient and its turns, oldest first."""

    session_id: str
    patient_id: str
    turns: list[SessionTurn]


class ErrorBody(BaseModel):
    """Every error response (and a stream's `error` event)."""

    error: str = Field(
        description="Stable machine code, e.g. unauthorized, rate_limited, overloaded, timeout."
    )
    message: str = Field(description="What went wrong, for people.")
    details: list[dict[str, Any]] | None = Field(
        None, description="Validation problems (location, message, type), when any."
    )


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"] = "ok"


class ReadinessCheck(BaseModel):
    """One dependency."""

    name: str = Field(description="`fhir` or `llm`.")
    ok: bool
    detail: str


class Readiness(BaseModel):
    """Whether the FHIR server and the model are reachable."""

    ready: bool
    checks: list[ReadinessCheck]

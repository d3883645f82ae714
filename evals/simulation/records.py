"""What a simulation run writes: transcript turns and one result per case.

A transcript is JSON Lines, one :class:`Turn` a line, in the order things happened: each
doctor action, the reply it got (patient, measurement reader or EHR agent), and the
moderator's verdict at the end. Every turn carries its timestamps, latency and tokens.

A :class:`CaseResult` is the scored outcome of one case. Both verdicts are kept: the LLM
judge's (``judge``) and the deterministic one (``fallback``); ``correct`` is the judge's
when it gave one and the fallback's otherwise (``verdict_source`` says which).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.simulation.matching import MatchMethod

__all__ = [
    "CaseOutcome",
    "CaseResult",
    "CaseUsage",
    "FallbackVerdict",
    "JudgeVerdict",
    "Turn",
    "TurnAction",
    "TurnRole",
    "utc_now",
]

TurnRole = Literal["doctor", "patient", "measurement", "ehr", "moderator"]
TurnAction = Literal[
    "ask_patient",
    "request_test",
    "query_ehr",
    "diagnose",
    "invalid",
    "reply",
    "results",
    "answer",
    "judge",
]
CaseOutcome = Literal["diagnosed", "turn_limit", "invalid_output"]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp uses)."""
    return datetime.now(UTC)


class Turn(BaseModel):
    """One message of a simulated consultation."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    seq: int = Field(description="Position in the transcript, from 1.")
    turn: int = Field(description="The doctor action this message belongs to, from 1.")
    role: TurnRole
    action: TurnAction = Field(
        description="The doctor's action, or what the reply is: reply (patient), results "
        "(measurement), answer (EHR agent), judge (moderator), invalid (no usable action)."
    )
    text: str = Field(description="What was said, as generated.")
    started_at: datetime
    ended_at: datetime
    seconds: float
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = Field(None, description="Model that produced the text.")
    citations: list[str] = Field(default_factory=list, description="EHR answers: Type/id.")
    fhir_requests: int | None = Field(None, description="EHR answers: FHIR requests made.")
    note: str | None = Field(None, description="What went unusually (repairs, failures).")


class JudgeVerdict(BaseModel):
    """The LLM moderator's verdict (``correct`` None when it gave none)."""

    model_config = ConfigDict(frozen=True)

    correct: bool | None
    reply: str | None = Field(None, description="The moderator's reply, as generated.")
    error: str | None = Field(None, description="Why there is no verdict, if there is none.")
    model: str | None = None


class FallbackVerdict(BaseModel):
    """The deterministic verdict (see :mod:`evals.simulation.matching`)."""

    model_config = ConfigDict(frozen=True)

    correct: bool
    method: MatchMethod
    score: float
    judged_text: str


class CaseUsage(BaseModel):
    """What one case cost, over every role."""

    model_config = ConfigDict(frozen=True)

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    doctor_prompt_tokens: int = 0
    doctor_completion_tokens: int = 0
    ehr_queries: int = 0
    fhir_requests: int = 0
    seconds: float = 0.0


class CaseResult(BaseModel):
    """The scored outcome of one simulated case."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    line: int
    source: str
    case_sha256: str
    correct_diagnosis: str
    diagnosis: str | None = Field(description="The doctor's diagnosis; None if it gave none.")
    outcome: CaseOutcome
    turns: int = Field(description="Doctor actions taken.")
    actions: dict[str, int] = Field(description="Doctor actions by kind.")
    correct: bool = Field(description="The moderator verdict: judge if it ruled, else fallback.")
    verdict_source: Literal["judge", "fallback"]
    judge: JudgeVerdict
    fallback: FallbackVerdict
    usage: CaseUsage
    ehr_patient_id: str | None = None
    started_at: datetime
    finished_at: datetime

"""One simulated consultation, AgentClinic's protocol with our doctor.

The doctor acts up to ``max_turns`` times. Asking the patient gets the patient agent's
reply; requesting a test gets the measurement reader's; querying the EHR gets our
agent's answer from the patient's record; diagnosing ends the case, and the moderator
(LLM judge) and the deterministic matcher both rule on the diagnosis. On the last turn
the doctor is told to diagnose now (as AgentClinic does); a doctor that still does not
ends with outcome ``turn_limit`` and counts as incorrect.

Failures: a doctor that cannot produce a valid action even after a repair attempt ends
the case (outcome ``invalid_output``, incorrect). An endpoint that is down raises
:class:`~evals.simulation.errors.RoleUnavailable` (the run stops); a refused request
raises :class:`~evals.simulation.errors.CaseFailed` (this case is skipped and retried by
the next run). Neither is ever turned into a verdict.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel

from agent.llm import LLMError, LLMOutputError, LLMUnavailable
from agent.session import AgentFailure
from evals.simulation.cases import SimulationCase
from evals.simulation.doctor import DoctorAgent, DoctorDecision, DoctorView
from evals.simulation.ehr import EHRAnswer, EHRConsultant
from evals.simulation.errors import CaseFailed, RoleUnavailable
from evals.simulation.matching import match_diagnosis
from evals.simulation.prompts import DEFAULT_SIMULATION_PROMPTS, SimulationPrompts
from evals.simulation.records import (
    CaseOutcome,
    CaseResult,
    CaseUsage,
    FallbackVerdict,
    JudgeVerdict,
    Turn,
    TurnAction,
    TurnRole,
    utc_now,
)
from evals.simulation.roles import Exchange, MeasurementAgent, Moderator, PatientAgent

__all__ = ["OUTAGE_KINDS", "EpisodeParts", "run_episode"]

OUTAGE_KINDS = frozenset(
    {
        "LLMUnavailable",
        "LocalModelError",
        "LocalRuntimeMissing",
        "LocalModelMissing",
        "LocalModelCorrupt",
        "FHIRUnavailable",
        "FHIRAuthError",
    }
)
"""EHR agent failures that mean a part is down (the run stops) rather than one bad case."""

T = TypeVar("T")


@dataclass(frozen=True)
class EpisodeParts:
    """Everything a consultation needs besides the case.

    Attributes:
        doctor: Our model, choosing the doctor's actions.
        patient: The patient agent's model.
        measurement: The measurement reader's model.
        moderator: The LLM judge's model.
        ehr: Builds the EHR consultant of an EHR-grounded case (None: no FHIR server
            configured, so the doctor is not offered the action).
        max_turns: Doctor actions before the case ends undiagnosed.
        ehr_queries: EHR questions allowed per case.
        prompts: The templates.
        model_names: Model name per role, for the transcript.
        on_turn: Called with every turn as it is recorded (progress display).
    """

    doctor: BaseChatModel
    patient: BaseChatModel
    measurement: BaseChatModel
    moderator: BaseChatModel
    ehr: Callable[[SimulationCase], EHRConsultant] | None = None
    max_turns: int = 20
    ehr_queries: int = 5
    prompts: SimulationPrompts = DEFAULT_SIMULATION_PROMPTS
    model_names: dict[str, str | None] | None = None
    on_turn: Callable[[Turn], None] | None = None


class _Transcript:
    def __init__(self, case_id: str, on_turn: Callable[[Turn], None] | None) -> None:
        self.case_id = case_id
        self.turns: list[Turn] = []
        self._on_turn = on_turn

    def add(
        self,
        turn: int,
        role: TurnRole,
        action: TurnAction,
        exchange: Exchange,
        **extra: Any,
    ) -> None:
        self.turns.append(
            Turn(
                case_id=self.case_id,
                seq=len(self.turns) + 1,
                turn=turn,
                role=role,
                action=action,
                text=exchange.text,
                started_at=exchange.started_at,
                ended_at=exchange.ended_at,
                seconds=exchange.seconds,
                llm_calls=exchange.llm_calls,
                prompt_tokens=exchange.prompt_tokens,
                completion_tokens=exchange.completion_tokens,
                model=exchange.model,
                note=exchange.note,
                **extra,
            )
        )
        if self._on_turn is not None:
            self._on_turn(self.turns[-1])


async def run_episode(case: SimulationCase, parts: EpisodeParts) -> tuple[CaseResult, list[Turn]]:
    """Simulate ``case`` and score it.

    Returns:
        The case result and its transcript.

    Raises:
        RoleUnavailable: A role's endpoint (or the FHIR server) is down.
        CaseFailed: A role's request was refused; the case has no result.
    """
    started = utc_now()
    clock = time.perf_counter()
    names = parts.model_names or {}
    ehr = parts.ehr(case) if (case.ehr is not None and parts.ehr is not None) else None
    doctor = DoctorAgent(
        parts.doctor,
        DoctorView(
            objective=case.objective,
            max_turns=parts.max_turns,
            ehr_as_of=case.ehr.as_of if (case.ehr is not None and ehr is not None) else None,
            ehr_queries=parts.ehr_queries,
        ),
        parts.prompts,
        model_name=names.get("doctor"),
    )
    patient = PatientAgent(parts.patient, case, parts.prompts)
    measurement = MeasurementAgent(parts.measurement, case, parts.prompts)
    transcript = _Transcript(case.id, parts.on_turn)
    actions: Counter[str] = Counter()
    ehr_used = fhir_requests = 0
    diagnosis: str | None = None
    outcome: CaseOutcome = "turn_limit"
    turn = 0

    for turn in range(1, parts.max_turns + 1):
        ehr_available = ehr is not None and ehr_used < parts.ehr_queries
        try:
            decision = await _guard(
                case.id, "doctor", doctor.decide(turn, ehr_available=ehr_available)
            )
        except _InvalidAction as invalid:
            transcript.add(turn, "doctor", "invalid", invalid.exchange)
            actions["invalid"] += 1
            outcome = "invalid_output"
            break
        transcript.add(turn, "doctor", decision.action, decision.exchange)
        actions[decision.action] += 1
        if decision.action == "diagnose":
            diagnosis = decision.text
            outcome = "diagnosed"
            break
        reply = await _respond(case, decision, patient, measurement, ehr, transcript, turn)
        if decision.action == "query_ehr":
            ehr_used += 1
            fhir_requests += transcript.turns[-1].fhir_requests or 0
        doctor.record(decision, reply)

    judge, fallback = await _verdicts(parts, transcript, turn, diagnosis, case.correct_diagnosis)
    correct = judge.correct if judge.correct is not None else fallback.correct
    turns = transcript.turns
    usage = _usage(turns, ehr_used, fhir_requests, time.perf_counter() - clock)
    result = CaseResult(
        case_id=case.id,
        line=case.line,
        source=case.source,
        case_sha256=case.sha256,
        correct_diagnosis=case.correct_diagnosis,
        diagnosis=diagnosis,
        outcome=outcome,
        turns=sum(1 for t in turns if t.role == "doctor"),
        actions=dict(sorted(actions.items())),
        correct=correct,
        verdict_source="judge" if judge.correct is not None else "fallback",
        judge=judge,
        fallback=fallback,
        usage=usage,
        ehr_patient_id=case.ehr.patient_id if case.ehr else None,
        started_at=started,
        finished_at=utc_now(),
    )
    return result, turns


def _usage(turns: list[Turn], ehr_queries: int, fhir_requests: int, seconds: float) -> CaseUsage:
    doctor = [t for t in turns if t.role == "doctor"]
    return CaseUsage(
        llm_calls=sum(t.llm_calls for t in turns),
        prompt_tokens=sum(t.prompt_tokens for t in turns),
        completion_tokens=sum(t.completion_tokens for t in turns),
        doctor_prompt_tokens=sum(t.prompt_tokens for t in doctor),
        doctor_completion_tokens=sum(t.completion_tokens for t in doctor),
        ehr_queries=ehr_queries,
        fhir_requests=fhir_requests,
        seconds=round(seconds, 3),
    )


async def _respond(
    case: SimulationCase,
    decision: DoctorDecision,
    patient: PatientAgent,
    measurement: MeasurementAgent,
    ehr: EHRConsultant | None,
    transcript: _Transcript,
    turn: int,
) -> str:
    if decision.action == "request_test":
        exchange = await _guard(case.id, "measurement", measurement.report(decision.text))
        transcript.add(turn, "measurement", "results", exchange)
        patient.hear_results(decision.text, exchange.text)
        return exchange.text
    if decision.action == "query_ehr":
        assert ehr is not None  # the action is only offered with a consultant
        answer = await _ask_ehr(case.id, ehr, decision.text)
        transcript.add(
            turn,
            "ehr",
            "answer",
            answer.exchange,
            citations=answer.citations,
            fhir_requests=answer.fhir_requests,
        )
        return answer.exchange.text
    exchange = await _guard(case.id, "patient", patient.reply(decision.text))
    transcript.add(turn, "patient", "reply", exchange)
    return exchange.text


async def _verdicts(
    parts: EpisodeParts,
    transcript: _Transcript,
    turn: int,
    diagnosis: str | None,
    correct: str,
) -> tuple[JudgeVerdict, FallbackVerdict]:
    matched = match_diagnosis(diagnosis, correct)
    fallback = FallbackVerdict(
        correct=matched.correct,
        method=matched.method,
        score=matched.score,
        judged_text=matched.judged_text,
    )
    if diagnosis is None:
        # Nothing to judge: incorrect under both verdicts, and no moderator call made.
        return JudgeVerdict(correct=False), fallback
    judge, exchange = await Moderator(parts.moderator, parts.prompts).judge(diagnosis, correct)
    if exchange is not None:
        transcript.add(turn, "moderator", "judge", exchange)
    return judge, fallback


class _InvalidAction(Exception):
    def __init__(self, exchange: Exchange) -> None:
        super().__init__("the doctor produced no valid action")
        self.exchange = exchange


async def _guard(case_id: str, role: str, call: Awaitable[T]) -> T:
    """Await a role's call, mapping model failures to what they mean for the run."""
    started = utc_now()
    try:
        return await call
    except LLMOutputError as exc:
        if role != "doctor":
            raise CaseFailed(case_id, role, str(exc), kind=type(exc).__name__) from exc
        ended = utc_now()
        raise _InvalidAction(
            Exchange(
                text=exc.raw_text,
                started_at=started,
                ended_at=ended,
                seconds=round((ended - started).total_seconds(), 3),
                llm_calls=2,
                prompt_tokens=0,
                completion_tokens=0,
                model=None,
                note=str(exc),
            )
        ) from exc
    except LLMUnavailable as exc:
        raise RoleUnavailable(role, str(exc), kind=type(exc).__name__) from exc
    except LLMError as exc:
        raise CaseFailed(case_id, role, str(exc), kind=type(exc).__name__) from exc


async def _ask_ehr(case_id: str, ehr: EHRConsultant, question: str) -> EHRAnswer:
    try:
        return await ehr.ask(question)
    except AgentFailure as exc:
        if exc.kind in OUTAGE_KINDS:
            raise RoleUnavailable("ehr", str(exc), kind=exc.kind) from exc
        raise CaseFailed(case_id, "ehr", str(exc), kind=exc.kind or "AgentFailure") from exc

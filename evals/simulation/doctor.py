"""The doctor: our model choosing one action a turn, as a JSON object.

Each turn the doctor sees the objective, the dialogue so far and the turn counter, and
answers with ``{"action": ..., "text": ...}`` through :func:`agent.llm.call_structured`
(a JSON-schema ``response_format``, which vLLM and llama.cpp enforce while decoding).
The schema lists only the actions available now: ``query_ehr`` appears when the case has
a FHIR patient and EHR questions remain.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.llm import call_structured
from evals.simulation.prompts import SimulationPrompts
from evals.simulation.records import utc_now
from evals.simulation.roles import Exchange

__all__ = [
    "DOCTOR_SCHEMA_NAME",
    "DoctorAction",
    "DoctorActionWithEHR",
    "DoctorAgent",
    "DoctorDecision",
    "DoctorView",
]

DOCTOR_SCHEMA_NAME = "doctor_action"
"""``json_schema.name`` of the doctor's requests (what scripted servers match on)."""

_CITATION = re.compile(r"\s*\[[A-Za-z]+/[A-Za-z0-9.\-]+\]")

ActionName = Literal["ask_patient", "request_test", "query_ehr", "diagnose"]


class DoctorAction(BaseModel):
    """The doctor's next action."""

    action: Literal["ask_patient", "request_test", "diagnose"] = Field(
        description="ask_patient, request_test or diagnose."
    )
    text: str = Field(
        min_length=1,
        description="What you say to the patient, the test you request, or your diagnosis.",
    )


class DoctorActionWithEHR(BaseModel):
    """The doctor's next action (the patient's health record can be queried)."""

    action: Literal["ask_patient", "request_test", "query_ehr", "diagnose"] = Field(
        description="ask_patient, request_test, query_ehr or diagnose."
    )
    text: str = Field(
        min_length=1,
        description="What you say to the patient, the test you request, your question to "
        "the health record, or your diagnosis.",
    )


@dataclass(frozen=True)
class DoctorView:
    """What the doctor is told about the case at the start."""

    objective: str
    max_turns: int
    ehr_as_of: date | None = None
    """Last day of the record the doctor may query; None: no record for this case."""
    ehr_queries: int = 0


@dataclass(frozen=True)
class DoctorDecision:
    """One validated action and the call that produced it."""

    action: ActionName
    text: str
    exchange: Exchange


class DoctorAgent:
    """Chooses the doctor's actions; keeps the dialogue as the doctor has seen it."""

    def __init__(
        self,
        model: BaseChatModel,
        view: DoctorView,
        prompts: SimulationPrompts,
        *,
        model_name: str | None = None,
    ) -> None:
        self._model = model
        self._model_name = model_name
        self._view = view
        self._prompts = prompts
        self._history: list[str] = []

    def system_prompt(self, *, ehr_available: bool) -> str:
        """The doctor's instructions (the EHR action only while it can be used)."""
        ehr_action = ""
        if ehr_available and self._view.ehr_as_of is not None:
            ehr_action = self._prompts.doctor_ehr_action.format(
                as_of=self._view.ehr_as_of.isoformat(), ehr_queries=self._view.ehr_queries
            )
        return self._prompts.doctor_system.format(
            max_turns=self._view.max_turns, ehr_action=ehr_action, objective=self._view.objective
        )

    async def decide(self, turn: int, *, ehr_available: bool) -> DoctorDecision:
        """The action for ``turn`` (1-based).

        Raises:
            LLMOutputError: No valid action after one repair attempt.
            LLMUnavailable, LLMRequestError: The endpoint failed (propagated untouched).
        """
        final_note = self._prompts.doctor_final_note if turn >= self._view.max_turns else ""
        history = "\n".join(self._history) or self._prompts.doctor_empty_history
        messages = [
            SystemMessage(self.system_prompt(ehr_available=ehr_available)),
            HumanMessage(
                self._prompts.doctor_turn.format(
                    history=history,
                    turn=turn,
                    max_turns=self._view.max_turns,
                    final_note=final_note,
                )
            ),
        ]
        schema: type[DoctorAction] | type[DoctorActionWithEHR] = (
            DoctorActionWithEHR if ehr_available else DoctorAction
        )
        started = utc_now()
        clock = time.perf_counter()
        result = await call_structured(self._model, messages, schema, name=DOCTOR_SCHEMA_NAME)
        exchange = Exchange(
            text=result.value.text.strip(),
            started_at=started,
            ended_at=utc_now(),
            seconds=round(time.perf_counter() - clock, 3),
            llm_calls=result.usage.llm_calls,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            model=self._model_name,
            note="repaired invalid JSON" if result.repaired else None,
        )
        return DoctorDecision(action=result.value.action, text=exchange.text, exchange=exchange)

    def record(self, decision: DoctorDecision, reply: str) -> None:
        """Add an action and the reply it got to the doctor's view of the dialogue."""
        if decision.action == "ask_patient":
            self._history += [f"Doctor: {decision.text}", f"Patient: {reply}"]
        elif decision.action == "request_test":
            self._history += [
                f"Doctor requests a test: {decision.text}",
                f"Measurement reader: {reply}",
            ]
        elif decision.action == "query_ehr":
            shown = _CITATION.sub("", reply).strip()
            self._history += [f"Doctor asks the health record: {decision.text}", f"Record: {shown}"]

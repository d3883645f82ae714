"""The simulated participants: the patient, the measurement reader and the moderator.

Each is a chat model behind an OpenAI-compatible endpoint, prompted as in AgentClinic
(see :mod:`evals.simulation.prompts`). They keep their own view of the dialogue: the
patient hears the doctor and the test results (as AgentClinic's patient does), the
measurement reader sees the earlier requests and its own answers.

Model failures propagate untouched (:mod:`agent.llm.errors`); the episode decides what
they mean for the case. Only the moderator absorbs them: a judge that is down or replies
neither Yes nor No gives no verdict, and the deterministic one is used.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agent.llm import LLMError
from evals.simulation.cases import SimulationCase
from evals.simulation.prompts import SimulationPrompts
from evals.simulation.records import JudgeVerdict, utc_now

__all__ = [
    "Exchange",
    "MeasurementAgent",
    "Moderator",
    "PatientAgent",
    "complete_text",
    "parse_yes_no",
    "render_facts",
]

_SPACES = re.compile(r"\s+")
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Exchange:
    """One model call: the reply text, when it happened, and what it cost."""

    text: str
    started_at: datetime
    ended_at: datetime
    seconds: float
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    model: str | None
    note: str | None = None


async def complete_text(model: BaseChatModel, messages: Sequence[BaseMessage]) -> Exchange:
    """Ask ``model`` for a plain-text reply; whitespace runs are collapsed (as AgentClinic).

    Raises:
        LLMError: The call failed (propagated untouched).
    """
    started = utc_now()
    clock = time.perf_counter()
    reply = await model.ainvoke(list(messages))
    if not isinstance(reply, AIMessage):
        raise TypeError(f"chat model returned {type(reply).__name__}, expected AIMessage")
    usage: dict[str, Any] = dict(reply.usage_metadata or {})
    return Exchange(
        text=_SPACES.sub(" ", reply.text).strip(),
        started_at=started,
        ended_at=utc_now(),
        seconds=round(time.perf_counter() - clock, 3),
        llm_calls=1,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
        model=reply.response_metadata.get("model_name"),
    )


def render_facts(facts: dict[str, Any]) -> str:
    """Case facts as compact JSON (what the role reads as "all of your information")."""
    return json.dumps(facts, ensure_ascii=False, separators=(", ", ": "))


def parse_yes_no(reply: str) -> bool | None:
    """True for a reply starting with Yes, False for No, None for anything else."""
    match = _YES_NO.match(reply)
    if match is None:
        return None
    return match.group(1).lower() == "yes"


class PatientAgent:
    """Plays the patient from the case's ``Patient_Actor``."""

    def __init__(
        self, model: BaseChatModel, case: SimulationCase, prompts: SimulationPrompts
    ) -> None:
        self._model = model
        self._prompts = prompts
        self._system = prompts.patient_system.format(patient_actor=render_facts(case.patient_actor))
        self._history: list[str] = []

    async def reply(self, doctor_text: str) -> Exchange:
        """The patient's answer to what the doctor just said."""
        prompt = self._prompts.patient_turn.format(
            history="\n".join(self._history) or "(nothing yet)", doctor=doctor_text
        )
        exchange = await complete_text(
            self._model, [SystemMessage(self._system), HumanMessage(prompt)]
        )
        self._history += [f"Doctor: {doctor_text}", f"Patient: {exchange.text}"]
        return exchange

    def hear_results(self, request: str, results: str) -> None:
        """Add a test request and its results to what the patient has heard."""
        self._history += [f"Doctor requests a test: {request}", f"Test results: {results}"]


class MeasurementAgent:
    """Reports examination findings and test results from the case."""

    def __init__(
        self, model: BaseChatModel, case: SimulationCase, prompts: SimulationPrompts
    ) -> None:
        self._model = model
        self._prompts = prompts
        self._system = prompts.measurement_system.format(examination=render_facts(case.examination))
        self._history: list[str] = []

    async def report(self, request: str) -> Exchange:
        """The results of the requested examination or test."""
        prompt = self._prompts.measurement_turn.format(
            history="\n".join(self._history) or "(none)", request=request
        )
        exchange = await complete_text(
            self._model, [SystemMessage(self._system), HumanMessage(prompt)]
        )
        self._history += [f"Request: {request}", f"Answer: {exchange.text}"]
        return exchange


class Moderator:
    """The LLM judge: does the doctor's diagnosis name the correct disease?"""

    def __init__(self, model: BaseChatModel, prompts: SimulationPrompts) -> None:
        self._model = model
        self._prompts = prompts

    async def judge(self, diagnosis: str, correct: str) -> tuple[JudgeVerdict, Exchange | None]:
        """The verdict, and the call that produced it (None if the endpoint failed).

        Never raises for a model failure: an unavailable or unparseable judge yields a
        verdict of None with the reason, and the caller falls back.
        """
        messages = [
            SystemMessage(self._prompts.moderator_system),
            HumanMessage(self._prompts.moderator_turn.format(correct=correct, diagnosis=diagnosis)),
        ]
        try:
            exchange = await complete_text(self._model, messages)
        except LLMError as exc:
            return JudgeVerdict(correct=None, error=f"{type(exc).__name__}: {exc}"), None
        verdict = parse_yes_no(exchange.text)
        error = None if verdict is not None else "the reply is neither Yes nor No"
        return (
            JudgeVerdict(correct=verdict, reply=exchange.text, error=error, model=exchange.model),
            exchange,
        )

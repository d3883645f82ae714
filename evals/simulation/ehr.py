"""The doctor's query-EHR action, answered by our agent on the case's FHIR patient.

Each EHR-grounded case gets one :class:`agent.session.AgentSession` (one conversation,
so follow-up questions see the earlier ones) bound to the case's patient and to the
day before the visit: the agent reads the history the doctor could have had, never the
visit's own diagnosis. The simulation never talks to FHIR itself.

An agent that could not produce a valid answer is something the doctor can work around,
so it is told so; any other failure (model or FHIR server down, a refused request)
propagates as :class:`agent.session.AgentFailure` and the episode reports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from agent.context import AgentOptions
from agent.graph import AgentGraph
from agent.session import AgentFailure, AgentSession
from evals.simulation.cases import EHRLink
from evals.simulation.records import utc_now
from evals.simulation.roles import Exchange
from tools.fhir import FHIRClient, FHIRGone, FHIRNotFound

__all__ = ["MODEL_FIXABLE_FAILURES", "EHRAnswer", "EHRConsultant", "missing_patients"]

MODEL_FIXABLE_FAILURES = frozenset({"LLMOutputError"})
"""Agent failures reported to the doctor as "no answer" instead of stopping the case."""


@dataclass(frozen=True)
class EHRAnswer:
    """The agent's answer to one doctor question.

    Attributes:
        exchange: Text (the agent's answer with its ``[Type/id]`` citations), timing and
            tokens of the whole agent run.
        citations: The resources cited, as ``Type/id``.
        fhir_requests: FHIR requests the agent made for this question.
        verified: Whether every citation was checked against the evidence shown.
    """

    exchange: Exchange
    citations: list[str]
    fhir_requests: int
    verified: bool


class EHRConsultant:
    """Our EHR agent, bound to one case's patient and record cut-off."""

    def __init__(
        self,
        *,
        client: FHIRClient,
        model: BaseChatModel,
        link: EHRLink,
        graph: AgentGraph,
        options: AgentOptions,
        thread_id: str,
        output_tokens: int = 1200,
        no_answer_text: str,
        model_name: str | None = None,
    ) -> None:
        self._session = AgentSession(
            client=client,
            model=model,
            patient_id=link.patient_id,
            as_of=link.as_of,
            options=options,
            graph=graph,
            thread_id=thread_id,
            output_tokens=output_tokens,
        )
        self._no_answer_text = no_answer_text
        self._model_name = model_name

    async def ask(self, question: str) -> EHRAnswer:
        """Answer ``question`` from the patient's record up to the case's cut-off.

        Raises:
            AgentFailure: The agent failed for a reason the doctor cannot work around
                (``kind`` names the underlying error).
        """
        started = utc_now()
        try:
            result = await self._session.ask(question)
        except AgentFailure as exc:
            if exc.kind not in MODEL_FIXABLE_FAILURES:
                raise
            ended = utc_now()
            return EHRAnswer(
                exchange=Exchange(
                    text=self._no_answer_text,
                    started_at=started,
                    ended_at=ended,
                    seconds=round((ended - started).total_seconds(), 3),
                    llm_calls=0,
                    prompt_tokens=0,
                    completion_tokens=0,
                    model=self._model_name,
                    note=f"the EHR agent failed: {exc.kind}",
                ),
                citations=[],
                fhir_requests=0,
                verified=False,
            )
        usage = result.usage
        return EHRAnswer(
            exchange=Exchange(
                text=result.answer.strip(),
                started_at=started,
                ended_at=utc_now(),
                seconds=float(usage["seconds"]),
                llm_calls=int(usage["llm_calls"]),
                prompt_tokens=int(usage["prompt_tokens"]),
                completion_tokens=int(usage["completion_tokens"]),
                model=self._model_name,
                note=None if result.verified else "citations not verified",
            ),
            citations=list(result.citations),
            fhir_requests=int(usage["fhir_requests"]),
            verified=result.verified,
        )


async def missing_patients(client: FHIRClient, patient_ids: Iterable[str]) -> list[str]:
    """The ids among ``patient_ids`` the FHIR server does not have (sorted).

    Raises:
        FHIRError: The server failed otherwise (unavailable, refused the request).
    """
    missing = []
    for patient_id in sorted(set(patient_ids)):
        try:
            await client.read("Patient", patient_id)
        except (FHIRNotFound, FHIRGone):
            missing.append(patient_id)
    return missing

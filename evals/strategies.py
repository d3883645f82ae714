"""The systems an eval compares, behind one interface: answer one dataset item.

- ``agent``: ours. Plans FHIR queries through the patient-scoped evidence tools.
- ``full-context``: the EHRQA method. The patient's whole record, condensed one line per
  resource (the same lines the tools show), goes into the prompt, cut to the model's
  context budget; then the same answer and verification steps as the agent.
- ``no-record``: the same answer step with no record at all: the guess rate.

All three use the same model, the same answer prompt and the same scorer, so differences
come from what the model is shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from langchain_core.language_models import BaseChatModel

from agent.context import AgentOptions
from agent.graph import build_graph
from agent.session import AgentSession
from evals.dataset import QAItem
from tools.budget import estimate_tokens
from tools.evidence.overview import demographics_line
from tools.fhir import FHIRClient, track_requests
from tools.record_index import RecordIndex
from tools.records import EvidenceRecord
from tools.render import render_record
from tools.session import EvidenceSession

__all__ = ["STRATEGIES", "Outcome", "RecordText", "Strategy", "full_record_text"]

STRATEGIES = ("agent", "full-context", "no-record")

#: Sections of the full-context record, in the order a chart is read.
_ORDER = (
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "Immunization",
    "Procedure",
    "CarePlan",
    "ImagingStudy",
    "Media",
    "DocumentReference",
    "DiagnosticReport",
    "Encounter",
    "Observation",
)


@dataclass
class Outcome:
    """What a strategy produced for one item."""

    answer: str = ""
    value: Any = None
    unit: str | None = None
    citations: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    """``Type/id`` of every resource the model was shown."""
    verified: bool = False
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    """An infrastructure failure (the item is not scored as wrong)."""
    failure: str | None = None
    """The model failed to produce an answer (scored as wrong)."""
    context_tokens: int = 0
    """Approximate tokens of record text given to the model (full-context)."""
    record_tokens: int = 0
    """Approximate tokens of the whole record before it was cut to fit (full-context)."""


def _section(
    rt: str, records: list[EvidenceRecord], session: EvidenceSession, budget: int
) -> tuple[list[str], list[EvidenceRecord]]:
    lines = [f"{rt} ({len(records)}):"]
    used = estimate_tokens(lines[0])
    kept: list[EvidenceRecord] = []
    for rec in sorted(records, key=lambda r: r.date or "", reverse=True):
        line = render_record(rec, session.cites)
        cost = estimate_tokens(line) + 1
        if used + cost > budget:
            break
        lines.append(line)
        kept.append(rec)
        used += cost
    if len(kept) < len(records):
        lines.append(f"({len(records) - len(kept)} older {rt} lines cut to fit the context)")
    return lines, kept


class RecordText(NamedTuple):
    """The record as full-context gives it to the model."""

    text: str
    shown: list[EvidenceRecord]
    """The records whose lines made it into ``text``."""
    whole_tokens: int
    """Approximate tokens of the whole record, had nothing been cut."""


async def full_record_text(session: EvidenceSession, budget_tokens: int) -> RecordText:
    """The patient's record, one line per resource, within ``budget_tokens``.

    Sections are given a fair share of the budget (small sections keep everything; large
    ones keep their newest lines), like the overview does.
    """
    patient = await session.patient()
    index: RecordIndex = await session.index()
    head = demographics_line(patient, session.as_of, session.cite_patient())
    by_type: dict[str, list[EvidenceRecord]] = {}
    for rec in index.records:
        by_type.setdefault(rec.resource_type, []).append(rec)
    present = [rt for rt in _ORDER if rt in by_type]
    remaining = budget_tokens - estimate_tokens(head)
    sizes = {
        rt: sum(estimate_tokens(render_record(r, session.cites)) + 1 for r in by_type[rt])
        for rt in present
    }
    sections: dict[str, list[str]] = {}
    shown: list[EvidenceRecord] = []
    for position, rt in enumerate(sorted(present, key=lambda t: sizes[t])):
        share = remaining // (len(present) - position)
        lines, kept = _section(rt, by_type[rt], session, share)
        sections[rt] = lines
        shown.extend(kept)
        remaining -= sum(estimate_tokens(line) + 1 for line in lines)
    text = "\n".join([head, *(line for rt in present for line in sections[rt])])
    whole = estimate_tokens(head) + sum(
        estimate_tokens(f"{rt} ({len(by_type[rt])}):") + 1 + sizes[rt] for rt in present
    )
    return RecordText(text, shown, whole)


class Strategy:
    """Answers dataset items with one method, one model and one FHIR server."""

    def __init__(
        self,
        name: str,
        *,
        client: FHIRClient,
        model: BaseChatModel,
        options: AgentOptions,
        context_tokens: int = 6500,
        output_tokens: int = 1200,
    ) -> None:
        """Set up ``name`` (one of :data:`STRATEGIES`)."""
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; one of {', '.join(STRATEGIES)}")
        self.name = name
        self.client = client
        self.model = model
        self.options = options
        self.context_tokens = context_tokens
        self.output_tokens = output_tokens
        self._graph = build_graph(mode="agent" if name == "agent" else "direct")

    async def answer(self, item: QAItem) -> Outcome:
        """Answer one item; failures are recorded in the outcome, not raised."""
        options = self.options
        if self.name == "no-record":
            options = AgentOptions(
                max_steps=options.max_steps,
                tool_mode=options.tool_mode,
                vision=options.vision,
                require_citations=False,
                prompts=options.prompts,
            )
        session = AgentSession(
            client=self.client,
            model=self.model,
            patient_id=item.patient_id,
            as_of=item.as_of,
            options=options,
            graph=self._graph,
            output_tokens=self.output_tokens,
        )
        outcome = Outcome()
        context_text: str | None = None
        started = time.perf_counter()
        with track_requests() as fhir:
            if self.name == "full-context":
                record = await full_record_text(session.evidence, self.context_tokens)
                session.evidence.remember(record.shown)
                context_text = record.text
                outcome.context_tokens = estimate_tokens(record.text)
                outcome.record_tokens = record.whole_tokens
            final: dict[str, Any] | None = None
            async for event in session.stream(
                item.question,
                answer_type=item.answer_type,
                choices=item.choices,
                context_text=context_text if self.name != "agent" else None,
            ):
                if event.get("type") in ("final", "error"):
                    final = dict(event)
        fhir_before_question = fhir.requests
        if final is None or final.get("type") == "error":
            data = (final or {}).get("data") or {}
            message = str((final or {}).get("message", "no answer"))
            if data.get("failure") == "LLMOutputError":
                outcome.failure = message
            else:
                outcome.error = message
            outcome.usage = {"seconds": round(time.perf_counter() - started, 3)}
            return outcome
        result = final["data"]["result"]
        outcome.answer = result["answer"]
        outcome.value = result["value"]
        outcome.unit = result["unit"]
        outcome.citations = list(result["citations"])
        outcome.verified = bool(result["verified"])
        outcome.shown = list(session.evidence.retrieved)
        outcome.usage = dict(result["usage"])
        outcome.usage["fhir_requests"] = fhir_before_question
        outcome.usage["seconds"] = round(time.perf_counter() - started, 3)
        return outcome

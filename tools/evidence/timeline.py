"""``timeline``: encounters in a date range, newest first, with what was recorded at each.

Encounters come from a FHIR search (date range, sorted); what was recorded at each comes
from the record index, grouped by the encounter each resource points to, so one call
costs one request after the index exists. Observations are summarised by name with their
values; other items are listed with citations.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tools.budget import OutputBudget, estimate_tokens
from tools.evidence.args import TimelineArgs
from tools.evidence.base import ToolError, ToolResult
from tools.evidence.search import date_params
from tools.record_index import RecordIndex
from tools.records import EvidenceRecord, condense
from tools.render import day, short_display

__all__ = ["run_timeline"]

_ITEM_ORDER = (
    "Condition",
    "MedicationRequest",
    "Procedure",
    "Immunization",
    "DiagnosticReport",
    "CarePlan",
    "ImagingStudy",
    "AllergyIntolerance",
    "Observation",
)


def _item(rec: EvidenceRecord, cite: Any) -> str:
    name = short_display(rec.display) or rec.resource_type
    if rec.resource_type == "Observation":
        value = f" {rec.value}" if rec.value else ""
        return f"{name}{value} {cite(rec.ref)}"
    label = {
        "Condition": "diagnosed",
        "MedicationRequest": "prescribed",
        "Procedure": "procedure",
        "Immunization": "vaccine",
        "DiagnosticReport": "report",
        "CarePlan": "care plan",
        "ImagingStudy": "imaging",
        "AllergyIntolerance": "allergy",
    }.get(rec.resource_type, rec.resource_type)
    return f"{label}: {name} {cite(rec.ref)}"


async def run_timeline(session: Any, args: TimelineArgs) -> ToolResult:
    """List encounters in the range with their recorded items."""
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ToolError("date_from is after date_to")
    index: RecordIndex = await session.index()
    params = date_params("Encounter", args.date_from, args.date_to, session.as_of)
    params += [("_sort", "-date"), ("_count", str(args.limit))]
    page = await session.scope.search("Encounter", params, max_rows=args.limit)
    encounters = [condense(r) for r in page.resources]
    by_encounter: dict[str, list[EvidenceRecord]] = defaultdict(list)
    for rec in index.records:
        if rec.encounter:
            by_encounter[rec.encounter].append(rec)

    cited: list[str] = []

    def cite(ref: str) -> str:
        cited.append(ref)
        return str(session.cites.cite(ref))

    budget = OutputBudget(session.output_tokens)
    total = page.total if page.total is not None else len(encounters)
    budget.add(
        f"Encounters: {len(encounters)} shown"
        + (f" of {total}" if total > len(encounters) else "")
        + ", newest first",
        force=True,
    )
    shown: dict[str, EvidenceRecord] = {}
    for enc in encounters:
        reason = (
            f", reason: {short_display(enc.details['reason'])}" if enc.details.get("reason") else ""
        )
        head = (
            f"{day(enc.date)} {short_display(enc.display) or 'Encounter'}"
            f" [{enc.details.get('class', '?')}]{reason} {cite(enc.ref)}"
        )
        if not budget.add(head):
            cited.pop()
            continue
        shown[enc.ref] = enc
        items = sorted(
            by_encounter.get(enc.ref, []),
            key=lambda r: (
                _ITEM_ORDER.index(r.resource_type) if r.resource_type in _ITEM_ORDER else 99
            ),
        )
        for rec in items:
            mark = len(cited)
            if budget.add("  - " + _item(rec, cite)):
                shown[rec.ref] = rec
            else:
                del cited[mark:]
    if budget.cut:
        budget.add(
            f"({budget.cut} lines not shown; narrow the date range or lower the limit)",
            force=True,
        )
    if not encounters:
        budget.add(f"No encounters in that period {session.cite_patient()}.", force=True)
    session.remember(list(shown.values()))
    text = budget.text()
    return ToolResult(
        tool="timeline",
        text=text,
        records=list(shown.values()),
        citations=list(dict.fromkeys(cited)),
        truncated=budget.cut,
        tokens=estimate_tokens(text),
    )

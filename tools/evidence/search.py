"""``search``: resources of one type, filtered by concept, dates, status and category.

The concept is resolved against the record's own codes first, so the FHIR query asks for
exact codes (``code=system|code,...``); when the concept names nothing in the record the
answer is "none found", with the record's concepts of that type as hints. An empty result
cites the Patient: the absence is a fact about this patient's record.
"""

from __future__ import annotations

from typing import Any

from tools.budget import OutputBudget, estimate_tokens
from tools.concepts import Resolution, resolve
from tools.evidence.args import SearchArgs
from tools.evidence.base import ToolError, ToolResult
from tools.record_index import RecordIndex
from tools.records import DATE_PARAM, condense
from tools.render import render_record, short_display

__all__ = ["CODE_PARAM", "STATUS_PARAM", "concept_codes", "date_params", "run_search"]

#: Search parameter holding each type's concept.
CODE_PARAM: dict[str, str] = {
    "Observation": "code",
    "Condition": "code",
    "Procedure": "code",
    "DiagnosticReport": "code",
    "AllergyIntolerance": "code",
    "MedicationRequest": "code",
    "Immunization": "vaccine-code",
    "Encounter": "type",
    "CarePlan": "category",
    "DocumentReference": "type",
    "ImagingStudy": "modality",
    "Media": "modality",
}
STATUS_PARAM: dict[str, str] = {
    "Condition": "clinical-status",
    "AllergyIntolerance": "clinical-status",
}
#: Types whose records always carry their date, so the reference date can go into the query.
_ALWAYS_DATED = frozenset(
    {
        "Observation",
        "Encounter",
        "Procedure",
        "Immunization",
        "DiagnosticReport",
        "MedicationRequest",
        "ImagingStudy",
    }
)


def date_params(
    resource_type: str, date_from: Any, date_to: Any, as_of: Any
) -> list[tuple[str, str]]:
    """FHIR date filters for a type (``date=ge...``), capped at the reference date."""
    param = DATE_PARAM.get(resource_type)
    if param is None:
        return []
    out: list[tuple[str, str]] = []
    if date_from is not None:
        out.append((param, f"ge{date_from.isoformat()}"))
    upper = date_to
    if resource_type in _ALWAYS_DATED and (upper is None or upper > as_of):
        upper = as_of
    if upper is not None:
        out.append((param, f"le{upper.isoformat()}"))
    return out


def concept_codes(
    concept: str, resource_type: str, index: RecordIndex
) -> tuple[Resolution, list[str]]:
    """Resolve a concept within one type; return the resolution and its query tokens.

    Codes that exist only as components (systolic inside a blood pressure panel) are
    searched through their panels.
    """
    resolution = resolve(concept, index.entries, [resource_type])
    tokens: list[str] = []
    for entry in resolution.entries:
        if entry.component_of and entry.count and entry.token not in _main_tokens(index):
            tokens.extend(entry.component_of)
        else:
            tokens.append(entry.token)
    return resolution, list(dict.fromkeys(tokens))


def _main_tokens(index: RecordIndex) -> set[str]:
    cached: set[str] | None = getattr(index, "_main_tokens", None)
    if cached is None:
        cached = {c.token for rec in index.records for c in rec.codes}
        index._main_tokens = cached  # type: ignore[attr-defined]
    return cached


def _hint(resource_type: str, index: RecordIndex) -> str:
    names = [short_display(e.display) for e in index.entries_of(resource_type)[:12]]
    if not names:
        return f"The record has no {resource_type} resources."
    return f"{resource_type} concepts in this record: " + "; ".join(names)


async def run_search(session: Any, args: SearchArgs) -> ToolResult:
    """Run a scoped search and render the rows within the output budget."""
    index: RecordIndex = await session.index()
    rt = args.type
    params: list[tuple[str, str]] = []
    note = ""
    if args.concept:
        resolution, tokens = concept_codes(args.concept, rt, index)
        note = resolution.explain()
        if not tokens:
            text = (
                f"No {rt} matching '{args.concept}' in this patient's record up to "
                f"{session.as_of.isoformat()} {session.cites.cite(session.patient_ref)}.\n"
                + _hint(rt, index)
            )
            return ToolResult(
                tool="search",
                text=text,
                citations=[session.patient_ref],
                tokens=estimate_tokens(text),
            )
        params.append((CODE_PARAM[rt], ",".join(tokens)))
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ToolError("date_from is after date_to")
    params.extend(date_params(rt, args.date_from, args.date_to, session.as_of))
    if args.status:
        params.append((STATUS_PARAM.get(rt, "status"), args.status.strip().lower()))
    if args.category:
        if rt != "Observation":
            raise ToolError("category applies to Observation only")
        params.append(("category", args.category.strip().lower()))
    sort_param = DATE_PARAM.get(rt)
    if sort_param:
        params.append(("_sort", sort_param if args.sort == "oldest" else f"-{sort_param}"))
    params.append(("_count", str(min(args.limit, 200))))
    page = await session.scope.search(rt, params, max_rows=args.limit)

    records = [session.as_of_view(condense(r)) for r in page.resources]
    records = [r for r in records if session.is_current(r)]
    total = page.total if page.total is not None else len(records)
    budget = OutputBudget(session.output_tokens)
    header = f"{rt}: {len(records)} shown" + (f" of {total}" if total > len(records) else "")
    header += f", {args.sort} first" + (f" ({note})" if note else "")
    budget.add(header, force=True)
    shown = []
    for rec in records:
        if budget.add(render_record(rec, session.cites)):
            shown.append(rec)
    if not records:
        budget.add(
            f"No {rt} found with these filters up to {session.as_of.isoformat()} "
            f"{session.cites.cite(session.patient_ref)}.",
            force=True,
        )
    hidden = budget.cut + max(0, total - len(records))
    if hidden:
        budget.add(
            f"({hidden} more not shown; narrow with date_from/date_to, concept or status)",
            force=True,
        )
    session.remember(shown)
    text = budget.text()
    return ToolResult(
        tool="search",
        text=text,
        records=shown,
        citations=[r.ref for r in shown] or [session.patient_ref],
        truncated=hidden,
        tokens=estimate_tokens(text),
    )

"""``search``: resources of one type, filtered by concept, dates, status and category.

The concept is resolved against the record's own codes first, so the FHIR query asks for
exact codes (``code=system|code,...``); when the concept names nothing in the record the
answer is "none found", with the record's concepts of that type as hints. An empty result
cites the Patient: the absence is a fact about this patient's record.
"""

from __future__ import annotations

from datetime import timedelta
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
#: Rows asked per page.
_PAGE = 200
#: Rows fetched (over pages) when the status or the reference-date cut is decided here: the
#: counts are exact up to this many matches, approximate beyond.
_DECIDE_LOCALLY_MAX = 2000
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
    """FHIR date filters for a type, capped at the reference date: overlap semantics.

    A resource matches when its date (or period) overlaps ``[date_from, date_to]`` (whole
    days). Per the R4 prefix rules ``ge``/``le`` do not say that for periods: ``le D``
    misses a period that starts on D and ends later. ``gt`` the day before and ``lt`` the
    day after do: the target must end after ``date_from`` begins and start before
    ``date_to`` ends.
    """
    param = DATE_PARAM.get(resource_type)
    if param is None:
        return []
    out: list[tuple[str, str]] = []
    if date_from is not None:
        out.append((param, f"gt{(date_from - timedelta(days=1)).isoformat()}"))
    upper = date_to
    if resource_type in _ALWAYS_DATED and (upper is None or upper > as_of):
        upper = as_of
    if upper is not None:
        out.append((param, f"lt{(upper + timedelta(days=1)).isoformat()}"))
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
                f"{session.as_of.isoformat()} {session.cite_patient()}.\n" + _hint(rt, index)
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
    local_status = None
    if args.status:
        if rt in STATUS_PARAM:
            # A clinical status changes over time and the server knows only the latest one:
            # decide it on the record as it stood on the reference date, here.
            local_status = args.status.strip().lower()
        else:
            params.append(("status", args.status.strip().lower()))
    if args.category:
        if rt != "Observation":
            raise ToolError("category applies to Observation only")
        params.append(("category", args.category.strip().lower()))
    sort_param = DATE_PARAM.get(rt)
    if sort_param:
        params.append(("_sort", sort_param if args.sort == "oldest" else f"-{sort_param}"))
    # Types the query cannot cap at the reference date (and clinical statuses) are decided
    # here, on the rows fetched: fetch generously so that `limit` current rows remain.
    capped = rt in _ALWAYS_DATED or not DATE_PARAM.get(rt)
    decided_here = bool(local_status) or not capped
    fetch = _PAGE if decided_here else min(args.limit, _PAGE)
    params.append(("_count", str(fetch)))
    page = await session.scope.search(
        rt, params, max_rows=_DECIDE_LOCALLY_MAX if decided_here else fetch
    )

    fetched = [session.as_of_view(condense(r)) for r in page.resources]
    current = [r for r in fetched if session.is_current(r)]
    # Matches the server had beyond the rows fetched, less those dated after the reference
    # date (not evidence, so not "cut" either).
    unfetched = max(0, (page.total or 0) - len(page.resources)) if page.total is not None else 0
    if unfetched and not capped:
        later = [(DATE_PARAM[rt], f"sa{session.as_of.isoformat()}")]
        filters = [(k, v) for k, v in params if k not in ("_sort", "_count")]
        later_total = await session.scope.count(rt, [*filters, *later])
        later_fetched = len(fetched) - len(current)
        unfetched = max(0, unfetched - max(0, later_total - later_fetched))
    if local_status:
        current = [r for r in current if (r.status or "").lower() == local_status]
    records = current[: args.limit]
    total = len(current) + unfetched
    # Rows first, so that the header can say how many are actually printed.
    rows = OutputBudget(session.output_tokens - 40)
    shown = []
    rendered = []
    for rec in records:
        line = render_record(rec, session.cites)
        if rows.add(line):
            shown.append(rec)
            rendered.append(line)
    budget = OutputBudget(session.output_tokens)
    header = f"{rt}: {len(shown)} shown" + (f" of {total}" if total > len(shown) else "")
    header += f", {args.sort} first" + (f" ({note})" if note else "")
    budget.add(header, force=True)
    for line in rendered:
        budget.add(line, force=True)
    if not records:
        budget.add(
            f"No {rt} found with these filters up to {session.as_of.isoformat()} "
            f"{session.cite_patient()}.",
            force=True,
        )
    hidden = total - len(shown)
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

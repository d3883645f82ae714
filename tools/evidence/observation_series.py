"""``observation_series``: one measurement over time, with the arithmetic already done.

The concept is resolved to the record's codes; each code gets its own series (asking for
"cholesterol" gives total, LDL and HDL separately; "blood pressure" gives systolic and
diastolic from the panel's components). Per series: unit, n, first, last, min, max, mean,
change and trend, then the values newest first until the budget is spent.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tools.budget import OutputBudget, estimate_tokens
from tools.evidence.args import ObservationSeriesArgs
from tools.evidence.base import ToolError, ToolResult
from tools.evidence.search import concept_codes, date_params
from tools.record_index import RecordIndex
from tools.records import EvidenceRecord, condense
from tools.render import day, short_display, system_name
from tools.series import Point, SeriesSummary, summarize

__all__ = ["run_observation_series"]

_MAX_OBSERVATIONS = 2000


def _fmt(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"


def _series_points(
    records: list[EvidenceRecord], wanted: set[str]
) -> dict[str, tuple[str, str | None, list[Point], dict[str, EvidenceRecord]]]:
    """Points per code token: (display, unit, points, ref→record)."""
    out: dict[str, tuple[str, str | None, list[Point], dict[str, EvidenceRecord]]] = {}
    grouped: dict[str, list[tuple[EvidenceRecord, float, str | None, str]]] = defaultdict(list)
    for rec in records:
        if rec.date is None:
            continue
        main = [c.token for c in rec.codes]
        if rec.number is not None and any(t in wanted for t in main):
            token = next(t for t in main if t in wanted)
            grouped[token].append((rec, rec.number, rec.unit, rec.display))
        for comp in rec.components:
            tokens = [c.token for c in comp.codes]
            hit = next((t for t in tokens if t in wanted), None)
            # a panel asked for by its own code yields every numeric component
            if hit is None and any(t in wanted for t in main) and rec.number is None:
                hit = tokens[0] if tokens else None
            if hit is not None and comp.number is not None:
                grouped[hit].append((rec, comp.number, comp.unit, comp.display))
    for token, rows in grouped.items():
        display = rows[-1][3] or token
        units = {u for _, _, u, _ in rows}
        unit = units.pop() if len(units) == 1 else None
        points = [Point(when=r.date or "", value=v, ref=r.ref) for r, v, _, _ in rows]
        out[token] = (display, unit, points, {r.ref: r for r, _, _, _ in rows})
    return out


def _summary_line(name: str, token: str, unit: str | None, s: SeriesSummary, cite: Any) -> str:
    system, _, code = token.partition("|")
    u = f" {unit}" if unit else ""
    trend: str = s.trend
    if s.slope_per_year is not None and s.trend != "stable":
        trend += f" ({_fmt(s.change)}{u} from first to last over {s.span_years:.1f} y)"
    return (
        f"{short_display(name)} ({system_name(system)} {code}), unit{u or ' none'}: n={s.n}, "
        f"first {_fmt(s.first.value)} on {day(s.first.when)} {cite(s.first.ref)}, "
        f"last {_fmt(s.last.value)} on {day(s.last.when)} {cite(s.last.ref)}, "
        f"min {_fmt(s.minimum.value)} on {day(s.minimum.when)} {cite(s.minimum.ref)}, "
        f"max {_fmt(s.maximum.value)} on {day(s.maximum.when)} {cite(s.maximum.ref)}, "
        f"mean {_fmt(s.mean)}; trend {trend}"
    )


async def run_observation_series(session: Any, args: ObservationSeriesArgs) -> ToolResult:
    """Fetch and summarise the series for a concept."""
    index: RecordIndex = await session.index()
    resolution, tokens = concept_codes(args.concept, "Observation", index)
    if not tokens:
        text = (
            f"No Observation matching '{args.concept}' in this patient's record up to "
            f"{session.as_of.isoformat()} {session.cite_patient()}."
        )
        return ToolResult(
            tool="observation_series",
            text=text,
            citations=[session.patient_ref],
            tokens=estimate_tokens(text),
        )
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ToolError("date_from is after date_to")
    params = [("code", ",".join(tokens))]
    params.extend(date_params("Observation", args.date_from, args.date_to, session.as_of))
    params.extend([("_sort", "date"), ("_count", "500")])
    page = await session.scope.search("Observation", params, max_rows=_MAX_OBSERVATIONS)
    records = [r for r in (condense(x) for x in page.resources) if session.is_current(r)]
    wanted = {e.token for e in resolution.entries}
    series = _series_points(records, wanted)

    budget = OutputBudget(session.output_tokens)
    budget.add(resolution.explain(), force=True)
    if not series:
        budget.add(
            f"No numeric values for '{args.concept}' in the requested period "
            f"{session.cite_patient()}.",
            force=True,
        )
    shown: dict[str, EvidenceRecord] = {}
    cited: list[str] = []

    def cite(ref: str) -> str:
        cited.append(ref)
        return str(session.cites.cite(ref))

    ordered = sorted(series.items(), key=lambda kv: -len(kv[1][2]))
    for token, (display, unit, points, by_ref) in ordered:
        summary = summarize(points)
        budget.add(_summary_line(display, token, unit, summary, cite), force=True)
        for ref in cited:
            if ref in by_ref:
                shown[ref] = by_ref[ref]
    # Values newest first, shared fairly between the series; the summaries above already
    # cite first, last, min and max.
    per_series = max(1, (budget.max_tokens - budget.used) // max(1, len(ordered)))
    for _token, (display, unit, points, by_ref) in ordered:
        local = OutputBudget(per_series)
        name = short_display(display)
        values = sorted(points, key=lambda p: p.when, reverse=True)
        local.add(f"{name} values (newest first):", force=True)
        for p in values:
            line = f"  {day(p.when)} {_fmt(p.value)}{' ' + unit if unit else ''} {cite(p.ref)}"
            if local.add(line):
                shown[p.ref] = by_ref[p.ref]
            else:
                cited.pop()
        if local.cut:
            local.add(
                f"  ({local.cut} earlier values not listed; use date_from/date_to to see them)",
                force=True,
            )
        for line in local.lines:
            budget.add(line, force=True)
        budget.cut += local.cut
    session.remember(list(shown.values()))
    text = budget.text()
    return ToolResult(
        tool="observation_series",
        text=text,
        records=list(shown.values()),
        citations=list(dict.fromkeys(cited)) or [session.patient_ref],
        truncated=budget.cut,
        tokens=estimate_tokens(text),
    )

"""``read``: one resource, condensed, with what it points to.

Accepts a citation handle the model has seen (``O12``) or a ``Type/id``. A diagnostic
report comes with its result values; references to other resources are shown as
handles when they are already known.
"""

from __future__ import annotations

from typing import Any

from tools.budget import OutputBudget, estimate_tokens
from tools.evidence.args import ReadArgs
from tools.evidence.base import ToolError, ToolResult
from tools.records import EvidenceRecord, condense, reference_id
from tools.render import render_record, short_display, system_name

__all__ = ["run_read"]


def _detail_lines(rec: EvidenceRecord, cites: Any) -> list[str]:
    lines = []
    for c in rec.codes:
        lines.append(f"  code: {system_name(c.system)} {c.code} {c.display}".rstrip())
    if rec.date:
        lines.append(f"  date: {rec.date}" + (f" to {rec.end}" if rec.end else ""))
    if rec.status:
        lines.append(f"  status: {rec.status}")
    if rec.value is not None:
        lines.append(f"  value: {rec.value}")
    for comp in rec.components:
        lines.append(f"  component: {short_display(comp.display)} = {comp.value}")
    for key, value in rec.details.items():
        lines.append(f"  {key}: {value}")
    if rec.encounter:
        known = rec.encounter in cites
        lines.append(f"  encounter: {cites.cite(rec.encounter) if known else rec.encounter}")
    return lines


async def run_read(session: Any, args: ReadArgs) -> ToolResult:
    """Read one in-scope resource."""
    ref = session.cites.resolve(args.ref) or args.ref.strip().strip("[]")
    if "/" not in ref:
        raise ToolError(
            f"{args.ref!r} is not a handle seen in this session (nor Type/id); search first"
        )
    resource = await session.scope.read(ref)
    rec = session.as_of_view(condense(resource))
    if not session.is_current(rec):
        raise ToolError(f"{args.ref} is dated after the session's reference date")
    budget = OutputBudget(session.output_tokens)
    budget.add(render_record(rec, session.cites, codes=True), force=True)
    for line in _detail_lines(rec, session.cites):
        budget.add(line)
    shown = [rec]
    if rec.resource_type == "DiagnosticReport":
        result_ids = [
            rid.split("/", 1)[1]
            for r in resource.get("result") or []
            if (rid := reference_id(r.get("reference"))) and rid.startswith("Observation/")
        ]
        if result_ids:
            page = await session.scope.search(
                "Observation", [("_id", ",".join(result_ids))], max_rows=len(result_ids)
            )
            budget.add("  results:", force=True)
            for obs in page.resources:
                orec = condense(obs)
                if budget.add("  " + render_record(orec, session.cites)):
                    shown.append(orec)
    if budget.cut:
        budget.add(f"  ({budget.cut} lines not shown)", force=True)
    session.remember(shown)
    text = budget.text()
    return ToolResult(
        tool="read",
        text=text,
        records=shown,
        citations=[r.ref for r in shown],
        truncated=budget.cut,
        tokens=estimate_tokens(text),
    )

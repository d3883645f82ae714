"""``record_overview``: who the patient is and what the record holds, in one bounded page.

Demographics with age as of the reference date; per resource type the count and span;
per type the distinct concepts with counts (deduplicated, most frequent first, cut to
the budget with a note saying how many were left out). Conditions, allergies, care plans
and imaging are few and matter most, so each is listed with its status and a citation;
frequent concepts (vital signs, labs, immunizations) are listed with counts and dates
only: their values come from ``observation_series`` and ``search``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from tools.budget import estimate_tokens
from tools.citations import cited_refs
from tools.evidence.args import OverviewArgs
from tools.evidence.base import ToolResult
from tools.record_index import CodeEntry, RecordIndex
from tools.records import EvidenceRecord
from tools.render import day, medium_display, short_display
from tools.series import parse_day

__all__ = ["age_on", "demographics_line", "run_overview"]

_SECTION_ORDER = (
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "Observation",
    "Immunization",
    "Procedure",
    "CarePlan",
    "DiagnosticReport",
    "Encounter",
    "ImagingStudy",
    "Media",
    "DocumentReference",
)
_LABELS = {
    "Condition": "Conditions",
    "AllergyIntolerance": "Allergies",
    "MedicationRequest": "Medications",
    "Observation": "Observations",
    "Immunization": "Immunizations",
    "Procedure": "Procedures",
    "CarePlan": "Care plans",
    "DiagnosticReport": "Reports",
    "Encounter": "Encounters",
    "ImagingStudy": "Imaging studies",
    "Media": "Images",
    "DocumentReference": "Documents",
}
#: Types whose items are each listed with status and citation (they are few and decisive).
_ITEMIZED = frozenset({"Condition", "AllergyIntolerance", "CarePlan", "ImagingStudy", "Media"})


@dataclass(frozen=True)
class Item:
    """One overview entry and the group it is printed under (an Observation category)."""

    group: str
    text: str


def age_on(birth: str, when: date) -> int:
    """Whole years between a birth date and ``when``."""
    born = parse_day(birth)
    return when.year - born.year - ((when.month, when.day) < (born.month, born.day))


def _span(first: str | None, last: str | None) -> str:
    if not first:
        return ""
    a, b = day(first), day(last)
    return a[:4] if a[:4] == b[:4] else f"{a[:4]}–{b[:4]}"


_US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-"


def _us_core_category(patient: dict[str, Any], name: str) -> str | None:
    """A US Core race or ethnicity: its OMB category displays, else its text part."""
    for extension in patient.get("extension") or []:
        if not isinstance(extension, dict) or extension.get("url") != _US_CORE + name:
            continue
        parts = [p for p in extension.get("extension") or [] if isinstance(p, dict)]
        displays = [
            str(p["valueCoding"]["display"])
            for p in parts
            if p.get("url") == "ombCategory"
            and isinstance(p.get("valueCoding"), dict)
            and p["valueCoding"].get("display")
        ]
        if displays:
            return " and ".join(displays)
        text = next((p.get("valueString") for p in parts if p.get("url") == "text"), None)
        if text:
            return str(text)
    return None


def _languages(patient: dict[str, Any]) -> list[str]:
    found = []
    for entry in patient.get("communication") or []:
        language = entry.get("language") if isinstance(entry, dict) else None
        if not isinstance(language, dict):
            continue
        displays = [c.get("display") for c in language.get("coding") or [] if isinstance(c, dict)]
        name = next((d for d in displays if d), None) or language.get("text")
        if name:
            found.append(str(name))
    return found


def demographics_line(patient: dict[str, Any], as_of: date, cite: str) -> str:
    """The patient line of the overview (and of full-context's record), ending in ``cite``.

    Name, gender, birth date with the age on ``as_of`` (or death and the age at death),
    marital status, languages, and the US Core race and ethnicity, where recorded.
    """
    names = patient.get("name") or [{}]
    name = " ".join([*(names[0].get("given") or []), str(names[0].get("family", ""))]).strip()
    gender = patient.get("gender", "unknown gender")
    birth = patient.get("birthDate")
    parts = [f"Patient: {name or 'unnamed'}, {gender}"]
    if birth:
        parts.append(f"born {birth}")
        died = patient.get("deceasedDateTime")
        if died and day(died) <= as_of.isoformat():
            parts.append(f"died {day(died)} (age {age_on(birth, parse_day(died))} at death)")
        else:
            parts.append(f"age {age_on(birth, as_of)} as of {as_of.isoformat()}")
    elif patient.get("deceasedBoolean"):
        parts.append("deceased")
    marital = (patient.get("maritalStatus") or {}).get("text")
    if marital:
        parts.append(f"marital status {marital}")
    languages = _languages(patient)
    if languages:
        parts.append(f"language {' and '.join(languages)}")
    for label in ("race", "ethnicity"):
        value = _us_core_category(patient, label)
        if value:
            parts.append(f"{label} {value}")
    return ", ".join(parts) + f" {cite}"


def _latest_by_code(records: list[EvidenceRecord]) -> dict[tuple[str, str], EvidenceRecord]:
    latest: dict[tuple[str, str], EvidenceRecord] = {}
    for rec in records:
        if not rec.codes:
            continue
        key = (rec.codes[0].system, rec.codes[0].code)
        if key not in latest or (rec.date or "") > (latest[key].date or ""):
            latest[key] = rec
    return latest


def _itemized(
    rt: str, records: list[EvidenceRecord], entries: list[CodeEntry], cite: Any
) -> list[str]:
    latest = _latest_by_code([r for r in records if r.resource_type == rt])
    items: list[tuple[int, str]] = []
    for entry in entries:
        rec = latest.get((entry.system, entry.code))
        if rec is None:
            continue
        name = short_display(entry.display)
        times = f" ×{entry.count}" if entry.count > 1 else ""
        status = (rec.status or "").lower()
        if rt == "Condition":
            active = status == "active" and not rec.end
            when = f"since {day(rec.date)}" if active else f"{day(rec.date)}–{day(rec.end)}"
            text = f"{name}{times} ({'active' if active else status or 'inactive'}, {when})"
            rank = 0 if active else 1
        elif rt == "CarePlan":
            text = f"{name} ({status or '?'}, from {day(rec.date)})"
            rank = 0 if status == "active" else 1
        elif rt == "AllergyIntolerance":
            crit = rec.details.get("criticality")
            text = f"{name}" + (f" ({crit} criticality)" if crit else "")
            rank = 0
        else:
            text = f"{name} {day(rec.date)}{times}"
            rank = 0
        items.append((rank, f"{text} {cite(rec.ref)}"))
    items.sort(key=lambda x: x[0])
    return [text for _, text in items]


def _distinct_names(entries: list[CodeEntry]) -> dict[str, str]:
    """Short names per code token, made longer where two codes would read the same."""
    names = {e.token: short_display(e.display) for e in entries}
    for fallback in (medium_display, lambda d: d):
        seen: dict[str, int] = defaultdict(int)
        for name in names.values():
            seen[name.lower()] += 1
        clashes = {e.token for e in entries if seen[names[e.token].lower()] > 1}
        if not clashes:
            return names
        for e in entries:
            if e.token in clashes:
                names[e.token] = fallback(e.display)
    seen = defaultdict(int)
    for name in names.values():
        seen[name.lower()] += 1
    for e in entries:
        if seen[names[e.token].lower()] > 1:
            names[e.token] = f"{names[e.token]} ({e.code})"
    return names


#: Observation categories in the order a reader expects them.
_CATEGORY_ORDER = ("vital-signs", "laboratory", "survey", "exam", "procedure", "imaging", "other")


def _counted(rt: str, entries: list[CodeEntry], records: list[EvidenceRecord]) -> list[Item]:
    names = _distinct_names(entries)

    def text(e: CodeEntry) -> str:
        times = f" ×{e.count}" if e.count > 1 else ""
        return f"{names[e.token]}{times} {_span(e.first, e.last)}".rstrip()

    if rt != "Observation":
        return [Item("", text(e)) for e in entries]
    category_of: dict[str, str] = {}
    for rec in records:
        if rec.resource_type == "Observation" and rec.codes:
            category_of.setdefault(rec.codes[0].token, rec.details.get("category", "other"))
    # components (systolic, diastolic) are reached through their panel
    kept = [e for e in entries if not e.component_of or e.token in category_of]
    kept.sort(key=lambda e: (-e.count, e.display))
    return [Item(category_of.get(e.token, "other"), text(e)) for e in kept]


def _section_items(rt: str, index: RecordIndex, cite: Any) -> tuple[str, list[Item]]:
    summary = index.types[rt]
    entries = index.entries_of(rt)
    head = f"{_LABELS[rt]} ({summary.count}, {_span(summary.first, summary.last)})"
    if rt in _ITEMIZED:
        return head, [Item("", t) for t in _itemized(rt, index.records, entries, cite)]
    return head, _counted(rt, entries, index.records)


def _cost(head: str, items: list[Item]) -> int:
    return estimate_tokens(head) + sum(estimate_tokens(i.text) + 2 for i in items) + 16


def _render_section(rt: str, head: str, items: list[Item], budget_tokens: int) -> tuple[str, int]:
    """Keep items in priority order while they fit, then print them grouped."""
    kept: list[Item] = []
    used = estimate_tokens(head) + 16  # room for the "+N more" note
    for item in items:
        cost = estimate_tokens(item.text) + 2 + (4 if item.group else 0)
        if used + cost > budget_tokens:
            break
        kept.append(item)
        used += cost
    groups: dict[str, list[str]] = defaultdict(list)
    for item in kept:
        groups[item.group].append(item.text)
    order = sorted(
        groups,
        key=lambda g: _CATEGORY_ORDER.index(g) if g in _CATEGORY_ORDER else len(_CATEGORY_ORDER),
    )
    parts = [(f"[{g}] " if g else "") + "; ".join(groups[g]) for g in order]
    cut = len(items) - len(kept)
    text = f"{head}: {'. '.join(parts)}" if parts else head
    if cut > 0:
        text += f"; +{cut} more (search type={rt})"
    return text, cut


async def run_overview(session: Any, args: OverviewArgs) -> ToolResult:
    """Build the overview for the session's patient."""
    patient = await session.patient()
    index: RecordIndex = await session.index()
    cite = session.cites.cite
    lines = [demographics_line(patient, session.as_of, session.cite_patient())]
    present = [rt for rt in _SECTION_ORDER if rt in index.types]
    total = sum(index.types[rt].count for rt in present)
    first = min((index.types[rt].first or "9999") for rt in present) if present else None
    last = max((index.types[rt].last or "") for rt in present) if present else None
    lines.append(
        f"Record: {total} clinical resources"
        + (f", {day(first)} to {day(last)}" if first and last else "")
        + f"; evidence up to {session.as_of.isoformat()} only."
    )
    remaining = session.overview_tokens - sum(estimate_tokens(line) for line in lines) - 40
    built = {rt: _section_items(rt, index, cite) for rt in present}
    # Water-filling: the smallest sections take what they need; what they leave is shared
    # by the larger ones, so the budget is spent where the record is richest.
    rendered: dict[str, str] = {}
    truncated = 0
    pending = sorted(present, key=lambda rt: _cost(*built[rt]))
    for position, rt in enumerate(pending):
        share = max(40, remaining // (len(pending) - position))
        text, cut = _render_section(rt, *built[rt], share)
        rendered[rt] = text
        truncated += cut
        remaining -= estimate_tokens(text)
    lines.extend(rendered[rt] for rt in present)
    if not present:
        lines.append("The record holds no clinical resources.")
    lines.append(
        "Tools: observation_series for values over time, search for items of one type, "
        "timeline for visits, read for one item."
    )
    text = "\n".join(lines)
    refs = cited_refs(text, session.cites)
    shown = [rec for ref in refs if (rec := index.record(ref)) is not None]
    session.remember(shown)
    return ToolResult(
        tool="record_overview",
        text=text,
        records=shown,
        citations=refs,
        truncated=truncated,
        tokens=estimate_tokens(text),
    )

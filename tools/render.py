"""Evidence records as compact prompt lines, each ending in its citation.

One line per fact, dates to the day, values with units, the concept's display shortened
(``Hemoglobin [Mass/volume] in Blood`` becomes ``Hemoglobin``), and the citation last:
``2019-03-01 Hemoglobin A1c 6.2 % [O3]``.
"""

from __future__ import annotations

import re

from tools.citations import CitationRegistry
from tools.records import EvidenceRecord

__all__ = ["day", "medium_display", "render_record", "short_display", "system_name"]

_SYSTEM_NAMES = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://dicom.nema.org/resources/ontology/DCM": "DICOM",
}
_NOISE = [
    re.compile(p)
    for p in (
        r"\s*\[[^\]]*\]",
        r"\s*\((?:procedure|disorder|finding|situation|regime/therapy|record artifact)\)",
        r"\s+by (?:Automated count|calculation|Test strip|Immunologic method|CAP cancer protocols)",
        r"\s+in (?:Serum or Plasma|Blood|Serum|Urine)\b",
        r"/Hemoglobin\.total",
        r"\u200b",
    )
]


def short_display(display: str) -> str:
    """A display without bracketed properties, method and specimen noise."""
    text = display
    for pattern in _NOISE:
        text = pattern.sub("", text)
    return " ".join(text.split()) or display


def medium_display(display: str) -> str:
    """Like :func:`short_display` but keeping the specimen ("Glucose in Urine")."""
    text = display
    for pattern in (_NOISE[0], _NOISE[1], _NOISE[2], _NOISE[5]):
        text = pattern.sub("", text)
    return " ".join(text.split()) or display


def system_name(system: str) -> str:
    """A short name for a code system URI (LOINC, SNOMED, RxNorm, CVX), else the URI."""
    return _SYSTEM_NAMES.get(system, system)


def day(value: str | None) -> str:
    """The day part of an ISO date-time, or ``?``."""
    return value[:10] if value else "?"


def _code_label(rec: EvidenceRecord) -> str:
    if not rec.codes:
        return ""
    c = rec.codes[0]
    return f" ({system_name(c.system)} {c.code})"


def render_record(rec: EvidenceRecord, cites: CitationRegistry, *, codes: bool = False) -> str:
    """One prompt line for ``rec``, ending with its citation."""
    name = short_display(rec.display) or rec.resource_type
    label = _code_label(rec) if codes else ""
    cite = cites.cite(rec.ref)
    d = rec.details
    rt = rec.resource_type
    if rt == "Observation":
        value = rec.value if rec.value is not None else "(no value)"
        extra = f" ({d['interpretation']})" if d.get("interpretation") else ""
        return f"{day(rec.date)} {name}{label}: {value}{extra} {cite}"
    if rt == "Condition":
        status = rec.status or "unknown status"
        span = f"onset {day(rec.date)}"
        if rec.end:
            span += f", resolved {day(rec.end)}"
        return f"{name}{label}: {status}, {span} {cite}"
    if rt == "MedicationRequest":
        bits = [rec.status or "?"]
        if d.get("dosage"):
            bits.append(d["dosage"])
        elif d.get("frequency"):
            bits.append(d["frequency"])
        if d.get("reason"):
            bits.append(f"for {d['reason']}")
        return f"{day(rec.date)} {name}{label}: {', '.join(bits)} {cite}"
    if rt == "Encounter":
        cls = f" [{d['class']}]" if d.get("class") else ""
        reason = f", reason: {short_display(d['reason'])}" if d.get("reason") else ""
        return f"{day(rec.date)} {name}{cls}{reason} {cite}"
    if rt == "AllergyIntolerance":
        bits = [b for b in (d.get("category"), d.get("criticality"), d.get("clinical")) if b]
        extra = f" ({', '.join(bits)})" if bits else ""
        reaction = f", reaction: {d['reaction']}" if d.get("reaction") else ""
        return f"{name}{label}{extra}, recorded {day(rec.date)}{reaction} {cite}"
    if rt == "CarePlan":
        span = f"{day(rec.date)}–{day(rec.end) if rec.end else ''}"
        acts = f"; activities: {d['activities']}" if d.get("activities") else ""
        return f"{span} {name}{label}: {rec.status or '?'}{acts} {cite}"
    if rt == "DiagnosticReport":
        extra = f"; {d['conclusion']}" if d.get("conclusion") else ""
        form = f"; attachment {d['presented']}" if d.get("presented") else ""
        return f"{day(rec.date)} {name}{label}: {rec.status or '?'}{extra}{form} {cite}"
    if rt == "ImagingStudy":
        n = d.get("instances", "?")
        return f"{day(rec.date)} {name}: {n} image(s), {rec.status or '?'} {cite}"
    if rt == "Media":
        return f"{day(rec.date)} {name or 'image'}: {d.get('content', '?')} {cite}"
    if rt == "Immunization":
        extra = f" ({d['source']})" if d.get("source") else ""
        return f"{day(rec.date)} {name}{label}{extra} {cite}"
    if rt == "Patient":
        return f"{rec.display or 'Patient'} (demographics) {cite}"
    return f"{day(rec.date)} {name}{label}: {rec.status or ''} {cite}".replace(":  ", ": ")

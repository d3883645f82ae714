"""An independent re-derivation of gold answers from raw bundles, for the builder's tests.

Written from the FHIR resources alone with plain json/gzip: it shares no code with
``evals.builder``. Each item's ``params.op`` names the question; this module recomputes the
answer from the patient's raw resources and checks the gold answer and the evidence ids.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

Resource = dict[str, Any]

_MARITAL = {"M": "Married", "S": "Never married", "D": "Divorced", "W": "Widowed",
            "L": "Legally separated"}  # fmt: skip


class RawPatient:
    """One patient's resources straight from a bundle file."""

    def __init__(self, patient: Resource, resources: list[Resource]) -> None:
        self.patient = patient
        self.id = patient["id"]
        self.resources = resources
        self.by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.by_ref[f"Patient/{self.id}"] = patient

    def of(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r["resourceType"] == kind]


def load_raw(paths: Iterable[Path]) -> dict[str, RawPatient]:
    """Patients of every readable bundle (unreadable ones are skipped: not this module's job)."""
    found: dict[str, RawPatient] = {}
    for path in paths:
        try:
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            bundle = json.loads(raw)
        except (OSError, ValueError, EOFError):
            continue
        if not isinstance(bundle, dict):
            continue
        resources = [
            e["resource"]
            for e in bundle.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
        for patient in (r for r in resources if r.get("resourceType") == "Patient"):
            pid = patient.get("id")
            mine = [r for r in resources if r.get("id") and _owner(r) == pid]
            if pid and pid not in found:
                found[pid] = RawPatient(patient, mine)
    return found


def _owner(resource: Resource) -> str | None:
    for key in ("subject", "patient"):
        link = resource.get(key)
        if isinstance(link, dict) and isinstance(link.get("reference"), str):
            return link["reference"].split(":")[-1].split("/")[-1]
    return None


def _clean(text: Any) -> str:
    return re.sub(r"\s+", " ", re.sub("[\u200b\u200c\u200d\u2060\ufeff]", "", str(text))).strip()


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def when(r: Resource) -> date | None:
    """The clinical day of a resource (own implementation, per resource type)."""
    kind = r["resourceType"]
    fields = {
        "Observation": ["effectiveDateTime"],
        "DiagnosticReport": ["effectiveDateTime"],
        "Condition": ["onsetDateTime"],
        "MedicationRequest": ["authoredOn"],
        "Immunization": ["occurrenceDateTime"],
        "ImagingStudy": ["started"],
        "AllergyIntolerance": ["recordedDate", "onsetDateTime"],
    }.get(kind, [])
    for name in fields:
        if _day(r.get(name)):
            return _day(r.get(name))
    for name in ("period", "performedPeriod", "effectivePeriod"):
        if isinstance(r.get(name), dict) and _day(r[name].get("start")):
            return _day(r[name]["start"])
    return _day(r.get("performedDateTime"))


def _codeable(r: Resource) -> Any:
    kind = r["resourceType"]
    if kind == "MedicationRequest":
        return r.get("medicationCodeableConcept")
    if kind == "Immunization":
        return r.get("vaccineCode")
    if kind == "CarePlan":
        return (r.get("category") or [None])[0]
    if kind == "Encounter":
        return (r.get("type") or [None])[0]
    return r.get("code")


def tokens_of(r: Resource) -> set[str]:
    codeable = _codeable(r)
    if not isinstance(codeable, dict):
        return set()
    return {f"{c.get('system')}|{c.get('code')}" for c in codeable.get("coding") or []}


def display_of(r: Resource) -> str | None:
    return _first_display(_codeable(r))


def _first_display(codeable: Any) -> str | None:
    """Display of the first coding with system and code, else the concept's text."""
    if not isinstance(codeable, dict):
        return None
    for coding in codeable.get("coding") or []:
        if coding.get("system") and coding.get("code"):
            text = coding.get("display") or codeable.get("text")
            return _clean(text) if text else None
    return None


def _quantity(holder: Resource) -> float | None:
    q = holder.get("valueQuantity")
    return float(q["value"]) if isinstance(q, dict) and "value" in q else None


def value_of(r: Resource, component: str | None) -> float | None:
    if component is None:
        return _quantity(r)
    for part in r.get("component") or []:
        if any(c.get("code") == component for c in part.get("code", {}).get("coding", [])):
            return _quantity(part)
    return None


def _age(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class Check:
    """Re-derives one item and collects disagreements."""

    def __init__(self, item: dict[str, Any], patient: RawPatient) -> None:
        self.item = item
        self.p = patient
        self.params: dict[str, Any] = item["params"]
        self.as_of = date.fromisoformat(item["as_of"])
        self.problems: list[str] = []
        self.evidence = [patient.by_ref.get(e) for e in item["evidence_ids"]]

    def fail(self, message: str) -> None:
        self.problems.append(f"{self.item['template_id']} {self.item['id']}: {message}")

    def expect(self, derived: Any, what: str = "gold") -> None:
        gold = self.item["gold"]
        if isinstance(derived, float) or isinstance(gold, float):
            tolerance = max(self.item.get("tolerance") or 0.0, 0.006)
            ok = derived is not None and abs(float(derived) - float(gold)) <= tolerance
        elif isinstance(gold, list):
            ok = sorted(derived) == sorted(gold)
        else:
            ok = derived == gold
        if not ok:
            self.fail(f"{what}: derived {derived!r}, item says {gold!r}")

    def matching(self, kind: str | None = None) -> list[Resource]:
        """Resources of the item's type (and code, class, range) dated on or before as-of."""
        kind = kind or self.params["resource_type"]
        code = self.params.get("code")
        found = []
        for r in self.p.of(kind):
            day = when(r)
            if day is None or day > self.as_of:
                continue
            if code and code not in tokens_of(r):
                continue
            if (
                "class" in self.params
                and (r.get("class") or {}).get("code") != self.params["class"]
            ):
                continue
            if "date_from" in self.params and not (
                date.fromisoformat(self.params["date_from"]) <= day
                <= date.fromisoformat(self.params["date_to"])
            ):  # fmt: skip
                continue
            found.append(r)
        return found

    def series(self) -> list[tuple[date, float, Resource]]:
        points = []
        for r in self.matching("Observation"):
            value = value_of(r, self.params.get("component"))
            day = when(r)
            if value is not None and day is not None:
                points.append((day, value, r))
        return sorted(points, key=lambda t: t[0])

    def evidence_is(self, resources: Iterable[Resource]) -> None:
        want = sorted(f"{r['resourceType']}/{r['id']}" for r in resources)
        if sorted(self.item["evidence_ids"]) != want:
            self.fail(f"evidence {sorted(self.item['evidence_ids'])[:3]}... != derived {want[:3]}")


def _values_on(points: list[tuple[date, float, Resource]], day: date) -> list[float]:
    return [v for d, v, _ in points if d == day]


def _op_patient(c: Check) -> None:
    patient = c.p.patient
    op = c.params["op"]
    birth = _day(patient.get("birthDate"))
    death = _day(patient.get("deceasedDateTime"))
    if op == "age":
        assert birth is not None
        c.expect(float(_age(birth, c.as_of)))
    elif op == "age_at_death":
        assert birth is not None
        assert death is not None
        c.expect(float(_age(birth, death)))
    elif op == "birth_date":
        c.expect(str(birth))
    elif op == "death_date":
        c.expect(str(death))
    elif op == "deceased":
        c.expect("yes" if death is not None and death <= c.as_of else "no")
    elif op == "gender":
        c.expect(patient.get("gender"))
    elif op == "marital_status":
        c.expect(_MARITAL.get(patient["maritalStatus"]["coding"][0]["code"]))
    elif op == "language":
        language = patient["communication"][0]["language"]
        c.expect(_clean(language["coding"][0].get("display") or language.get("text")))
    elif op == "race":
        race = [
            part["valueCoding"]["display"]
            for ext in patient.get("extension", [])
            if ext.get("url", "").endswith("us-core-race")
            for part in ext.get("extension", [])
            if part.get("url") == "ombCategory"
        ]
        c.expect(race[0] if race else None)
    c.evidence_is([patient])


def _op_exists(c: Check) -> None:
    found = c.matching()
    c.expect("yes" if found else "no")
    if found:
        c.evidence_is(found)
    else:
        c.evidence_is([c.p.patient])


def _op_exists_choice(c: Check) -> None:
    found = c.matching()
    c.evidence_is(found)
    c.expect(display_of(found[0]) if found else None)
    everything = {display_of(r) for r in c.p.of(c.params["resource_type"])}
    for option in c.item["choices"]:
        if option != c.item["gold"] and option in everything:
            c.fail(f"distractor {option!r} is also in the patient's record")


def _op_exists_class(c: Check) -> None:
    if c.params["resource_type"] == "MedicationRequest":
        found = [
            r for r in c.matching()
            if re.search(c.params["pattern"], (display_of(r) or "").lower())
        ]  # fmt: skip
    else:
        found = c.matching()
    c.expect("yes" if found else "no")
    c.evidence_is(found or [c.p.patient])


def _op_date(c: Check) -> None:
    found = c.matching()
    if c.params["resource_type"] == "Observation" and c.params.get("component"):
        found = [r for r in found if value_of(r, c.params["component"]) is not None]
    days = sorted(d for d in (when(r) for r in found) if d)
    if not days:
        c.fail("no matching resource")
        return
    c.expect(str(days[0] if c.params["op"] == "first_date" else days[-1]))
    for resource in c.evidence:
        if resource is None or str(when(resource)) != c.item["gold"]:
            c.fail("an evidence resource is not dated on the gold day")


def _op_count(c: Check) -> None:
    if c.params["resource_type"] == "Observation":
        found = [r for _, _, r in c.series()]
    else:
        found = c.matching()
    c.expect(float(len(found)))
    c.evidence_is(found)


def _op_value(c: Check) -> None:
    points = c.series()
    op = c.params["op"]
    if op in ("max_value", "min_value"):
        values = [v for _, v, _ in points]
        c.expect(round(max(values) if op == "max_value" else min(values), 2))
        return
    if op == "value_on_day":
        day = date.fromisoformat(c.params["day"])
    else:
        day = points[-1][0] if op == "latest_value" else points[0][0]
    distinct = set(_values_on(points, day))
    if len(distinct) != 1:
        c.fail(f"{len(distinct)} different values on {day}")
        return
    c.expect(round(distinct.pop(), 2))
    for resource in c.evidence:
        if resource is None or when(resource) != day:
            c.fail("evidence is not from the answer's day")


def _op_any_beyond(c: Check) -> None:
    values = [v for _, v, _ in c.series()]
    cut = c.params["threshold"]
    above = c.params["direction"] == "above"
    hits = [v for v in values if (v > cut if above else v < cut)]
    c.expect("yes" if hits else "no")


def _op_count_at_least(c: Check) -> None:
    points = c.series()
    c.expect(float(sum(1 for _, v, _ in points if v >= c.params["threshold"])))
    c.evidence_is([r for _, _, r in points])


def _report(c: Check) -> Resource | None:
    token = c.params.get("report_code") or c.params.get("code")
    reports = [
        r for r in c.p.of("DiagnosticReport")
        if token in tokens_of(r) and str(when(r)) == c.params["day"]
    ]  # fmt: skip
    if len(reports) != 1:
        c.fail(f"{len(reports)} reports match")
        return None
    return reports[0]


def _results(c: Check, report: Resource) -> list[Resource]:
    found = []
    for link in report.get("result") or []:
        key = link["reference"].split(":")[-1].split("/")[-1]
        found += [r for r in c.p.of("Observation") if r["id"] == key]
    return found


def _op_report_value(c: Check) -> None:
    report = _report(c)
    if report is None:
        return
    results = [r for r in _results(c, report) if c.params["code"] in tokens_of(r)]
    if len(results) != 1:
        c.fail("report does not hold exactly one result of the code")
        return
    c.expect(round(value_of(results[0], None) or float("nan"), 2))
    c.evidence_is([report, results[0]])


def _op_report_members(c: Check) -> None:
    report = _report(c)
    if report is None:
        return
    results = _results(c, report)
    c.expect(sorted({display_of(r) for r in results}))
    c.evidence_is([report, *results])


def _op_trend(c: Check) -> None:
    points = c.series()
    first, last = points[0], points[-1]
    c.expect("increased" if last[1] > first[1] else "decreased")


def _op_abs_change(c: Check) -> None:
    points = c.series()
    a = set(_values_on(points, date.fromisoformat(c.params["day1"])))
    b = set(_values_on(points, date.fromisoformat(c.params["day2"])))
    if len(a) != 1 or len(b) != 1:
        c.fail("ambiguous days")
        return
    c.expect(round(abs(b.pop() - a.pop()), 2))


def _op_latest_higher(c: Check) -> None:
    points = c.series()
    then = set(_values_on(points, date.fromisoformat(c.params["day"])))
    latest = set(_values_on(points, points[-1][0]))
    if len(then) != 1 or len(latest) != 1:
        c.fail("ambiguous days")
        return
    c.expect("yes" if latest.pop() > then.pop() else "no")


def _op_max_date(c: Check) -> None:
    points = c.series()
    top = max(v for _, v, _ in points)
    c.expect(str(next(d for d, v, _ in points if v == top)))


def _op_lower_since_start(c: Check) -> None:
    meds = [
        r for r in c.p.of("MedicationRequest")
        if re.search(c.params["medication_pattern"], (display_of(r) or "").lower())
        and when(r) and when(r) <= c.as_of  # type: ignore[operator]
    ]  # fmt: skip
    start = min(d for r in meds if (d := when(r)))
    if str(start) != c.params["start"]:
        c.fail(f"first prescription {start}, item says {c.params['start']}")
    points = c.series()
    before = [p for p in points if p[0] < start]
    baseline = set(_values_on(points, before[-1][0]))
    latest = set(_values_on(points, points[-1][0]))
    c.expect("yes" if latest.pop() < baseline.pop() else "no")


def _status(r: Resource, field: str) -> str | None:
    value = r.get(field)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return (value.get("coding") or [{}])[0].get("code")
    return None


def _condition_active(c: Check, r: Resource) -> bool:
    end = _day(r.get("abatementDateTime"))
    if end is not None:
        return end > c.as_of
    return _status(r, "clinicalStatus") in ("active", "recurrence", "relapse")


def _op_condition_active(c: Check) -> None:
    found = c.matching()
    if len(found) != 1:
        c.fail(f"{len(found)} episodes")
        return
    c.expect("yes" if _condition_active(c, found[0]) else "no")
    c.evidence_is(found)


def _op_active_set(c: Check) -> None:
    op = c.params["op"]
    resources = c.matching()
    if op == "active_conditions":
        active = [r for r in resources if _condition_active(c, r)]
    elif op == "active_allergies":
        active = [r for r in resources if _status(r, "clinicalStatus") == "active"]
    else:
        active = [r for r in resources if r.get("status") == "active"]
    c.expect(sorted({display_of(r) for r in active}))
    c.evidence_is(active)


def _op_abatement_date(c: Check) -> None:
    found = c.matching()
    c.expect(str(_day(found[0].get("abatementDateTime"))) if len(found) == 1 else None)


def _op_latest_concept(c: Check) -> None:
    found = c.matching()
    last = max(d for r in found if (d := when(r)))
    c.expect(display_of(next(r for r in found if when(r) == last)))
    c.evidence_is([r for r in found if when(r) == last])


def _op_set_on_day(c: Check) -> None:
    found = [r for r in c.p.of(c.params["resource_type"]) if str(when(r)) == c.params["day"]]
    c.expect(sorted({display_of(r) for r in found}))
    c.evidence_is(found)


def _op_type_on_day(c: Check) -> None:
    found = [r for r in c.p.of("Encounter") if str(when(r)) == c.params["day"]]
    c.expect(display_of(found[0]) if len(found) == 1 else None)
    c.evidence_is(found)


def _op_latest_coded_value(c: Check) -> None:
    found = c.matching()
    last = max(d for r in found if (d := when(r)))
    latest = [r for r in found if when(r) == last]
    values = {_first_display(r.get("valueCodeableConcept")) for r in latest}
    c.expect(values.pop() if len(values) == 1 else None)
    c.evidence_is(latest)


def _op_imaging(c: Check) -> None:
    op = c.params["op"]
    if op == "imaging_site_on_day":
        studies = [r for r in c.p.of("ImagingStudy") if str(when(r)) == c.params["day"]]
        site = studies[0]["series"][0]["bodySite"] if studies else None
        c.expect(_first_display({"coding": [site]}))
        c.evidence_is(studies)
    elif op == "imaging_modality":
        study = c.evidence[0]
        assert study is not None
        c.expect(_first_display({"coding": [study["series"][0]["modality"]]}))
        if str(when(study)) != c.params["day"]:
            c.fail("study is not from the asked day")
    else:
        studies = [
            r for r in c.p.of("ImagingStudy")
            if any(
                _first_display({"coding": [s.get("bodySite")]}) == c.params["site"]
                for s in r.get("series") or []
            )
        ]  # fmt: skip
        c.expect(str(when(studies[0])) if len(studies) == 1 else None)
        c.evidence_is(studies)


def _plan(c: Check) -> Resource | None:
    plans = [
        r for r in c.p.of("CarePlan")
        if c.params["code"] in tokens_of(r) and str(when(r)) == c.params["day"]
    ]  # fmt: skip
    return plans[0] if len(plans) == 1 else None


def _op_care_plan(c: Check) -> None:
    plan = _plan(c)
    if plan is None:
        c.fail("care plan not unique")
        return
    if c.params["op"] == "care_plan_activities":
        names = {_first_display(a["detail"]["code"]) for a in plan["activity"]}
        c.expect(sorted(names))
        c.evidence_is([plan])
    else:
        target = plan["addresses"][0]["reference"].split(":")[-1].split("/")[-1]
        condition = next(r for r in c.p.of("Condition") if r["id"] == target)
        c.expect(display_of(condition))
        c.evidence_is([plan, condition])


OPS: dict[str, Callable[[Check], None]] = {
    **{op: _op_patient for op in ("age", "age_at_death", "birth_date", "death_date",
                                  "deceased", "gender", "marital_status", "language", "race")},
    "exists": _op_exists,
    "exists_choice": _op_exists_choice,
    "exists_class": _op_exists_class,
    "first_date": _op_date,
    "last_date": _op_date,
    "count": _op_count,
    "latest_value": _op_value,
    "first_value": _op_value,
    "value_on_day": _op_value,
    "max_value": _op_value,
    "min_value": _op_value,
    "any_beyond": _op_any_beyond,
    "count_at_least": _op_count_at_least,
    "report_value": _op_report_value,
    "report_members": _op_report_members,
    "trend": _op_trend,
    "abs_change": _op_abs_change,
    "latest_higher_than_day": _op_latest_higher,
    "max_date": _op_max_date,
    "lower_since_start": _op_lower_since_start,
    "condition_active": _op_condition_active,
    "active_conditions": _op_active_set,
    "active_medications": _op_active_set,
    "active_allergies": _op_active_set,
    "active_care_plans": _op_active_set,
    "abatement_date": _op_abatement_date,
    "latest_concept": _op_latest_concept,
    "set_on_day": _op_set_on_day,
    "type_on_day": _op_type_on_day,
    "latest_coded_value": _op_latest_coded_value,
    "imaging_site_on_day": _op_imaging,
    "imaging_modality": _op_imaging,
    "imaging_site_date": _op_imaging,
    "care_plan_activities": _op_care_plan,
    "care_plan_addresses": _op_care_plan,
}  # fmt: skip


def check_item(item: dict[str, Any], patients: dict[str, RawPatient]) -> list[str]:
    """Every disagreement between an item and its patient's raw bundle (empty if none)."""
    patient = patients.get(item["patient_id"])
    if patient is None:
        return [f"{item['id']}: patient {item['patient_id']} not in any bundle"]
    check = Check(item, patient)
    for ref, resource in zip(item["evidence_ids"], check.evidence, strict=True):
        if resource is None:
            check.fail(f"evidence {ref} is not in the patient's bundle")
        elif resource is not patient.patient and ((when(resource) or date.min) > check.as_of):
            check.fail(f"evidence {ref} is dated after as_of")
    if check.problems:
        return check.problems
    handler = OPS.get(item["params"].get("op"))
    if handler is None:
        return [f"{item['id']}: op {item['params'].get('op')!r} has no independent check"]
    try:
        handler(check)
    except (KeyError, IndexError, ValueError, AssertionError, StopIteration, TypeError) as exc:
        check.fail(f"cannot re-derive: {type(exc).__name__} {exc}")
    return check.problems

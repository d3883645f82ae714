"""Simulation cases: AgentClinic OSCE JSON Lines, optionally linked to a FHIR patient.

One line is one case, in the format of AgentClinic's ``agentclinic_medqa.jsonl``::

    {"OSCE_Examination": {"Objective_for_Doctor": "...", "Patient_Actor": {...},
     "Physical_Examination_Findings": {...}, "Test_Results": {...},
     "Correct_Diagnosis": "..."}}

Three optional top-level keys extend it: ``id`` (a stable case id; default
``<file stem>-<line>``), ``source`` (a label for grouping results) and ``ehr`` (the FHIR
patient the case was built from, the day the doctor's record view ends, and the
encounter and condition behind the case). Cases with ``ehr`` let the doctor query the
patient's record through our agent; see :mod:`evals.simulation.ehr_cases`.

Every line is validated; all problems are reported at once, each with its line number.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evals.simulation.errors import CaseFileError

__all__ = ["CaseLine", "EHRLink", "OSCEExamination", "SimulationCase", "load_cases"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_PROBLEMS = 50


class EHRLink(BaseModel):
    """The FHIR patient behind an EHR-grounded case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: str = Field(min_length=1, description="Patient logical id on the FHIR server.")
    as_of: date = Field(
        description="Last day of the record the doctor may query (the day before the visit)."
    )
    encounter: str | None = Field(None, description="The visit, as Encounter/<id>.")
    condition: str | None = Field(None, description="The diagnosis, as Condition/<id>.")
    diagnosis_code: str | None = Field(None, description="The diagnosis as system|code.")


class OSCEExamination(BaseModel):
    """AgentClinic's OSCE examination, with its original key names."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    objective_for_doctor: str = Field(alias="Objective_for_Doctor", min_length=1)
    patient_actor: dict[str, Any] = Field(alias="Patient_Actor", min_length=1)
    physical_examination_findings: dict[str, Any] = Field(alias="Physical_Examination_Findings")
    test_results: dict[str, Any] = Field(alias="Test_Results")
    correct_diagnosis: str = Field(alias="Correct_Diagnosis", min_length=1)

    @field_validator("objective_for_doctor", "correct_diagnosis")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class CaseLine(BaseModel):
    """One line of a case file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str | None = Field(None, description="Stable case id (letters, digits, . _ -).")
    source: str | None = Field(None, description="Label for grouping results.")
    ehr: EHRLink | None = Field(None, description="The FHIR patient behind the case.")
    osce: OSCEExamination = Field(alias="OSCE_Examination")

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(
                "must be 1-128 letters, digits, '.', '_' or '-' (it names files), "
                "starting with a letter or digit"
            )
        return value


@dataclass(frozen=True)
class SimulationCase:
    """A validated case, ready to simulate.

    Attributes:
        id: Stable id (names the transcript and result files).
        line: Line number in the case file (1-based).
        source: Group label (``agentclinic`` unless the line says otherwise,
            ``ehr`` for EHR-grounded cases without one).
        objective: What the doctor is told at the start.
        patient_actor: What the patient agent knows.
        examination: What the measurement agent can report (physical examination and
            test results, as AgentClinic gives them).
        correct_diagnosis: The answer the moderator compares with.
        ehr: The FHIR patient, for cases whose record the doctor can query.
        sha256: Hash of the line's content; a resumed run refuses a changed case.
    """

    id: str
    line: int
    source: str
    objective: str
    patient_actor: dict[str, Any]
    examination: dict[str, Any]
    correct_diagnosis: str
    ehr: EHRLink | None
    sha256: str


def load_cases(path: Path, *, limit: int | None = None) -> list[SimulationCase]:
    """Read and validate a case file; the first ``limit`` cases when given.

    Blank lines are skipped. Every line is checked (even beyond ``limit``), so a broken
    file is reported whole rather than discovered halfway through a long run.

    Raises:
        CaseFileError: The file cannot be read, is empty, or has invalid lines or
            duplicate ids; the message names each line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(path, [(0, f"cannot read the case file: {exc}")]) from exc
    problems: list[tuple[int, str]] = []
    cases: list[SimulationCase] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(problems) >= _MAX_PROBLEMS:
            break
        if not raw.strip():
            continue
        case = _parse_line(path, number, raw, problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(
                (number, f"duplicate case id {case.id!r} (first on line {seen[case.id]})")
            )
            continue
        seen[case.id] = number
        cases.append(case)
    if problems:
        raise CaseFileError(path, problems)
    if not cases:
        raise CaseFileError(path, [(0, "the case file holds no cases")])
    return cases[:limit] if limit is not None else cases


def _parse_line(
    path: Path, number: int, raw: str, problems: list[tuple[int, str]]
) -> SimulationCase | None:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
        return None
    if not isinstance(document, dict):
        problems.append((number, "a case must be a JSON object"))
        return None
    try:
        parsed = CaseLine.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "(line)"
            problems.append((number, f"{where}: {error['msg']}"))
        return None
    osce = parsed.osce
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return SimulationCase(
        id=parsed.id or f"{_stem(path)}-{number:04d}",
        line=number,
        source=parsed.source or ("ehr" if parsed.ehr else "agentclinic"),
        objective=osce.objective_for_doctor,
        patient_actor=dict(osce.patient_actor),
        examination={
            "Physical_Examination_Findings": osce.physical_examination_findings,
            "Test_Results": osce.test_results,
        },
        correct_diagnosis=osce.correct_diagnosis,
        ehr=parsed.ehr,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl", ".json"):
        name = name.removesuffix(suffix)
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return cleaned or "case"

"""Case files: AgentClinic OSCE lines read as they are, invalid lines named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.simulation.cases import load_cases
from evals.simulation.errors import CaseFileError


def _osce(diagnosis: str = "Myasthenia gravis") -> dict[str, Any]:
    return {
        "OSCE_Examination": {
            "Objective_for_Doctor": "Assess the patient.",
            "Patient_Actor": {"Demographics": "35-year-old female"},
            "Physical_Examination_Findings": {"Vital_Signs": {"Heart_Rate": "72 bpm"}},
            "Test_Results": {"Blood": {"AChR": "Present"}},
            "Correct_Diagnosis": diagnosis,
        }
    }


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_the_agentclinic_medqa_file_as_is(
    medqa_path: Path, medqa_raw: list[dict[str, Any]]
) -> None:
    cases = load_cases(medqa_path)
    assert len(cases) == len(medqa_raw) == 107
    for case, raw in zip(cases, medqa_raw, strict=True):
        osce = raw["OSCE_Examination"]
        assert case.correct_diagnosis == osce["Correct_Diagnosis"].strip()
        assert case.objective == osce["Objective_for_Doctor"].strip()
        assert case.patient_actor == osce["Patient_Actor"]
        assert case.examination == {
            "Physical_Examination_Findings": osce["Physical_Examination_Findings"],
            "Test_Results": osce["Test_Results"],
        }
        assert case.source == "agentclinic"
        assert case.ehr is None
    assert [c.id for c in cases[:2]] == ["agentclinic_medqa-0001", "agentclinic_medqa-0002"]
    assert len({c.sha256 for c in cases}) == 107


def test_limit_takes_the_first_cases(medqa_path: Path) -> None:
    assert [c.line for c in load_cases(medqa_path, limit=3)] == [1, 2, 3]


def test_every_invalid_line_is_named(tmp_path: Path) -> None:
    missing = _osce()
    del missing["OSCE_Examination"]["Correct_Diagnosis"]
    typo = {**_osce(), "ehr_link": {}}
    blank_objective = _osce()
    blank_objective["OSCE_Examination"]["Objective_for_Doctor"] = "  "
    path = _write(
        tmp_path / "cases.jsonl",
        [
            json.dumps(_osce()),
            '{"OSCE_Examination": ',
            json.dumps(missing),
            "",
            json.dumps(typo),
            json.dumps(blank_objective),
            json.dumps({**_osce(), "id": "bad id/with slash"}),
            "[1, 2]",
        ],
    )
    with pytest.raises(CaseFileError) as caught:
        load_cases(path)
    problems = dict(caught.value.problems)
    assert sorted(problems) == [2, 3, 5, 6, 7, 8]
    assert "not valid JSON" in problems[2]
    assert problems[3] == "OSCE_Examination.Correct_Diagnosis: Field required"
    assert problems[5].startswith("ehr_link: Extra inputs are not permitted")
    assert "must not be blank" in problems[6]
    assert problems[7].startswith("id: Value error")
    assert problems[8] == "a case must be a JSON object"
    assert str(caught.value).startswith(f"{path}: line 2: not valid JSON")


def test_duplicate_ids_and_empty_files_are_refused(tmp_path: Path) -> None:
    twice = _write(
        tmp_path / "twice.jsonl",
        [json.dumps({**_osce(), "id": "case-a"}), json.dumps({**_osce(), "id": "case-a"})],
    )
    with pytest.raises(
        CaseFileError, match=r"line 2: duplicate case id 'case-a' \(first on line 1\)"
    ):
        load_cases(twice)
    empty = _write(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(CaseFileError, match="holds no cases"):
        load_cases(empty)
    with pytest.raises(CaseFileError, match="cannot read"):
        load_cases(tmp_path / "absent.jsonl")


def test_an_ehr_block_links_a_case_to_a_fhir_patient(tmp_path: Path) -> None:
    line = {
        **_osce("Viral sinusitis"),
        "id": "ehr-1",
        "ehr": {"patient_id": "p-1", "as_of": "2019-03-01", "encounter": "Encounter/e-1"},
    }
    path = _write(tmp_path / "ehr.jsonl", [json.dumps(line)])
    [case] = load_cases(path)
    assert case.id == "ehr-1"
    assert case.source == "ehr"
    assert case.ehr is not None
    assert (case.ehr.patient_id, case.ehr.as_of.isoformat()) == ("p-1", "2019-03-01")
    bad = _write(tmp_path / "bad.jsonl", [json.dumps({**line, "ehr": {"patient_id": "p"}})])
    with pytest.raises(CaseFileError, match=r"line 1: ehr.as_of: Field required"):
        load_cases(bad)

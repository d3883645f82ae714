"""``ehr-agent tool`` end to end: the real CLI entry point against the loaded FHIR server.

Expected facts come from the raw bundles (``raw_synthea``); the command's stdout/stderr
and exit code are what is checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fhir_ground_truth import RawSynthea

from agent.cli import main
from fhir_fixtures.server import BackgroundServer

EVELYN = "3e26303e-a72a-4c60-866f-e5b81a9f1989"
AS_OF = "2019-06-01"
HANDLE = re.compile(r"\[([A-Z]+\d+)\]")


def run(
    server: BackgroundServer, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    code = main(["tool", *argv, "--as-of", AS_OF, "--fhir-url", server.base_url])
    out, err = capsys.readouterr()
    return code, out, err


def a1c(raw: RawSynthea) -> list[dict[str, Any]]:
    return sorted(
        (o for o in raw.of(EVELYN, "Observation") if o["code"]["coding"][0]["code"] == "4548-4"),
        key=lambda o: o["effectiveDateTime"],
    )


def test_text_output_has_handles_and_facts(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    raw_synthea: RawSynthea,
) -> None:
    code, out, _ = run(
        loaded_fhir_server, capsys, EVELYN, "observation_series", "--arg", "concept=4548-4"
    )
    assert code == 0
    series = a1c(raw_synthea)
    assert f"n={len(series)}" in out
    last = series[-1]
    assert f"last {last['valueQuantity']['value']:.3g} on {last['effectiveDateTime'][:10]}" in out
    assert len(set(HANDLE.findall(out))) == len(series)  # one handle per measurement


def test_patient_by_name_and_overview_demographics(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    raw_synthea: RawSynthea,
) -> None:
    patient = raw_synthea.patients[EVELYN]
    name = f"{patient['name'][0]['given'][0]} {patient['name'][0]['family']}"
    code, out, _ = run(loaded_fhir_server, capsys, name, "record_overview")
    assert code == 0
    assert f"{patient['gender']}, born {patient['birthDate']}" in out
    assert re.search(r"Conditions \(\d+, .*\[C\d+\]", out)


def test_json_output_parses_and_carries_the_records(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    raw_synthea: RawSynthea,
) -> None:
    code, out, _ = run(
        loaded_fhir_server,
        capsys,
        EVELYN,
        "search",
        "--arg",
        "type=Observation",
        "--arg",
        "concept=4548-4",
        "--arg",
        "limit=100",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    want = {f"Observation/{o['id']}" for o in a1c(raw_synthea)}
    assert doc["patient_id"] == EVELYN
    assert doc["error"] is None
    assert {r["ref"] for r in doc["records"]} == want
    assert set(doc["citations"]) == want
    # every handle in the text is in the handle table and names one of the records
    for handle in HANDLE.findall(doc["text"]):
        assert doc["handles"][handle] in want
    by_ref = {r["ref"]: r for r in doc["records"]}
    for obs in a1c(raw_synthea):
        assert by_ref[f"Observation/{obs['id']}"]["number"] == pytest.approx(
            obs["valueQuantity"]["value"]
        )


def test_full_ids_cite_type_and_id(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    raw_synthea: RawSynthea,
) -> None:
    obs = a1c(raw_synthea)[0]
    code, out, _ = run(
        loaded_fhir_server, capsys, EVELYN, "read", "--arg", f"ref=Observation/{obs['id']}",
        "--full-ids",
    )  # fmt: skip
    assert code == 0
    assert f"[Observation/{obs['id']}]" in out
    assert "LOINC 4548-4" in out


def test_unknown_patient_is_a_clear_error(
    loaded_fhir_server: BackgroundServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(loaded_fhir_server, capsys, "no-such-patient-0000", "record_overview")
    assert code != 0
    assert out == ""
    assert "error:" in err
    assert "no-such-patient-0000" in err or "no patient" in err.lower()


def test_unknown_tool_is_a_clear_error(
    loaded_fhir_server: BackgroundServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(loaded_fhir_server, capsys, EVELYN, "summarise_everything")
    assert code != 0
    assert out == ""
    assert "unknown tool 'summarise_everything'" in err
    assert "record_overview" in err  # lists the tools


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arg", "concept"], "--arg expects KEY=VALUE"),
        (["--arg", "=A1c"], "--arg expects KEY=VALUE"),
    ],
)
def test_malformed_arg_is_a_clear_error(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, out, err = run(loaded_fhir_server, capsys, EVELYN, "observation_series", *args)
    assert code != 0
    assert out == ""
    assert message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arg", "type=Banana"], "invalid arguments for search: type"),
        (["--arg", "type=Condition", "--arg", "colour=red"], "colour"),
        (["--arg", "type=Condition", "--arg", "limit=lots"], "limit"),
    ],
)
def test_invalid_tool_arguments_are_reported_with_a_non_zero_exit(
    loaded_fhir_server: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, out, _ = run(loaded_fhir_server, capsys, EVELYN, "search", *args)
    assert code != 0
    assert out.startswith("ERROR: ")
    assert message in out


def test_bad_as_of_is_a_clear_error(
    loaded_fhir_server: BackgroundServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["tool", EVELYN, "record_overview", "--as-of", "June 2019",
         "--fhir-url", loaded_fhir_server.base_url]
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code != 0
    assert "--as-of must be YYYY-MM-DD" in err

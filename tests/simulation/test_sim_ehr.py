"""EHR-grounded cases: built from raw bundles, and query-EHR answered by our agent over FHIR."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir_ground_truth import load_bundles_over_http
from langchain_core.messages import BaseMessage

from agent.checkpoint import open_checkpointer
from agent.cli import main
from agent.context import AgentOptions
from agent.graph import build_graph
from agent.llm import ScriptedChatModel
from agent.llm.scripted_server import ScriptedOpenAIServer
from evals.simulation.cases import SimulationCase, load_cases
from evals.simulation.ehr import EHRConsultant, missing_patients
from evals.simulation.ehr_cases import build_ehr_cases, write_case_file
from evals.simulation.episode import EpisodeParts, run_episode
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient

BUNDLE = "Angelic_Mueller_29d755a6-32fa-482e-8fdd-081300209df8.json.gz"
TAG = re.compile(r"\s*\((disorder|finding|situation)\)$")


def _raw(path: Path) -> dict[str, dict[str, Any]]:
    """Resources of one bundle by id, read with plain gzip+json."""
    bundle = json.loads(gzip.decompress(path.read_bytes()))
    return {entry["resource"]["id"]: entry["resource"] for entry in bundle["entry"]}


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


@pytest.fixture(scope="module")
def fhir_server(tmp_path_factory: pytest.TempPathFactory, synthea_dir: Path) -> Iterator[str]:
    """A real FHIR server over loopback holding one shared patient."""
    db = tmp_path_factory.mktemp("sim-fhir") / "fhir.sqlite"
    with BackgroundServer(db, validate=False) as server:
        load_bundles_over_http(server.base_url, [synthea_dir / BUNDLE])
        yield server.base_url


def test_cases_follow_the_raw_record(synthea_dir: Path, tmp_path: Path) -> None:
    path = synthea_dir / BUNDLE
    raw = _raw(path)
    report = build_ehr_cases([path], per_diagnosis=5)
    assert report == build_ehr_cases([path], per_diagnosis=5)  # deterministic
    assert report.cases, "this patient has qualifying visits"
    observations = [r for r in raw.values() if r["resourceType"] == "Observation"]
    for case in report.cases:
        ehr = case["ehr"]
        condition = raw[ehr["condition"].split("/", 1)[1]]
        encounter = raw[ehr["encounter"].split("/", 1)[1]]
        visit = _day(encounter["period"]["start"])
        osce = case["OSCE_Examination"]
        display = condition["code"]["coding"][0]["display"]
        assert osce["Correct_Diagnosis"] == TAG.sub("", display)
        assert condition["encounter"]["reference"] == f"urn:uuid:{encounter['id']}"
        assert _day(condition["onsetDateTime"]) == visit
        assert ehr["as_of"] == (visit - timedelta(days=1)).isoformat()
        assert ehr["patient_id"] == next(
            r["id"] for r in raw.values() if r["resourceType"] == "Patient"
        )
        # The patient's history stops before the visit and never names the diagnosis.
        actor = json.dumps(osce["Patient_Actor"])
        assert osce["Correct_Diagnosis"] not in osce["Patient_Actor"]["Past_Medical_History"]
        for other in raw.values():
            if other["resourceType"] == "Condition" and _day(other["onsetDateTime"]) >= visit:
                name = TAG.sub("", other["code"]["coding"][0]["display"])
                earlier = [
                    c
                    for c in raw.values()
                    if c["resourceType"] == "Condition"
                    and _day(c["onsetDateTime"]) < visit
                    and TAG.sub("", c["code"]["coding"][0]["display"]) == name
                ]
                if not earlier:
                    assert name not in actor
        # What the measurement agent reports at the visit is what was measured there.
        at_visit = {
            o["code"]["coding"][0]["display"]
            for o in observations
            if o.get("encounter", {}).get("reference") == f"urn:uuid:{encounter['id']}"
        }
        reported = set(osce["Test_Results"]["This_Visit"] or {}) | set(
            osce["Physical_Examination_Findings"]["Vital_Signs"] or {}
        )
        if isinstance(osce["Test_Results"]["This_Visit"], dict):
            assert reported <= at_visit | {"Tobacco smoking status NHIS"}
        earlier_results = osce["Test_Results"]["Earlier_Results"]
        if isinstance(earlier_results, dict):
            for value in earlier_results.values():
                assert date.fromisoformat(value[-11:-1]) < visit
    out = tmp_path / "cases.jsonl"
    write_case_file(report.cases, out)
    loaded = load_cases(out)
    assert [c.id for c in loaded] == [c["id"] for c in report.cases]
    assert all(c.source == "ehr" and c.ehr is not None for c in loaded)


def _wrist_case(synthea_dir: Path, tmp_path: Path) -> SimulationCase:
    report = build_ehr_cases([synthea_dir / BUNDLE], per_diagnosis=5)
    write_case_file(report.cases, tmp_path / "cases.jsonl")
    cases = load_cases(tmp_path / "cases.jsonl")
    [case] = [c for c in cases if c.correct_diagnosis == "Sprain of wrist"]
    return case


def _cite_first_condition(messages: list[BaseMessage]) -> str:
    handles = re.findall(r"\[(C\d+)\]", "\n".join(m.text for m in messages))
    return json.dumps(
        {"answer": f"Earlier conditions are on record [{handles[0]}].", "citations": [handles[0]]}
    )


async def test_the_doctor_queries_the_record_before_the_visit_through_our_agent(
    fhir_server: str, synthea_dir: Path, tmp_path: Path
) -> None:
    case = _wrist_case(synthea_dir, tmp_path)
    assert case.ehr is not None
    raw = _raw(synthea_dir / BUNDLE)
    visit = case.ehr.as_of + timedelta(days=1)
    doctor = ScriptedChatModel.from_steps(
        json.dumps({"action": "query_ehr", "text": "Which conditions were diagnosed before?"}),
        json.dumps({"action": "diagnose", "text": "Wrist sprain"}),
    )
    agent_model = ScriptedChatModel.from_steps(
        json.dumps({"enough": False, "calls": [{"tool": "search", "type": "Condition"}]}),
        json.dumps({"enough": True, "calls": []}),
        _cite_first_condition,
    )
    async with FHIRClient(fhir_server) as client, open_checkpointer(":memory:") as saver:
        assert await missing_patients(client, [case.ehr.patient_id, "nobody-here"]) == [
            "nobody-here"
        ]
        graph = build_graph(saver)

        def consultant(c: SimulationCase) -> EHRConsultant:
            assert c.ehr is not None
            return EHRConsultant(
                client=client,
                model=agent_model,
                link=c.ehr,
                graph=graph,
                options=AgentOptions(),
                thread_id=f"test-{c.id}",
                no_answer_text="no answer",
            )

        result, turns = await run_episode(
            case,
            EpisodeParts(
                doctor=doctor,
                patient=ScriptedChatModel.from_steps(),
                measurement=ScriptedChatModel.from_steps(),
                moderator=ScriptedChatModel.from_steps("Yes"),
                ehr=consultant,
            ),
        )

    assert [(t.role, t.action) for t in turns] == [
        ("doctor", "query_ehr"),
        ("ehr", "answer"),
        ("doctor", "diagnose"),
        ("moderator", "judge"),
    ]
    ehr_turn = turns[1]
    [cited] = ehr_turn.citations
    kind, cited_id = cited.split("/", 1)
    assert kind == "Condition"
    assert raw[cited_id]["subject"]["reference"] == f"urn:uuid:{case.ehr.patient_id}"
    assert _day(raw[cited_id]["onsetDateTime"]) < visit  # history before the visit only
    assert ehr_turn.text == f"Earlier conditions are on record [{cited}]."
    assert ehr_turn.fhir_requests is not None
    assert ehr_turn.fhir_requests > 0
    assert result.usage.ehr_queries == 1
    assert result.usage.fhir_requests == ehr_turn.fhir_requests
    # Nothing the agent read names the visit's diagnosis.
    read = "\n".join(m.text for call in agent_model.received for m in call)
    assert "Sprain of wrist" not in read
    assert f"read as of {case.ehr.as_of.isoformat()}" in read
    earlier = {
        TAG.sub("", r["code"]["coding"][0]["display"])
        for r in raw.values()
        if r["resourceType"] == "Condition" and _day(r["onsetDateTime"]) < visit
    }
    assert earlier, "the patient has history before the visit"
    assert all(name in read for name in earlier)
    # The doctor was offered the record, then read the answer without citation ids.
    schema = doctor.call_kwargs[0]["response_format"]["json_schema"]["schema"]
    assert "query_ehr" in schema["properties"]["action"]["enum"]
    assert "Record: Earlier conditions are on record." in doctor.received[1][1].text
    assert (result.correct, result.fallback.method) == (True, "containment")


async def test_an_agent_without_a_usable_answer_tells_the_doctor_so(
    fhir_server: str, synthea_dir: Path, tmp_path: Path
) -> None:
    case = _wrist_case(synthea_dir, tmp_path)
    assert case.ehr is not None
    bad_answer = '{"answer": 12}'
    agent_model = ScriptedChatModel.from_steps(
        json.dumps({"enough": True, "calls": []}), bad_answer, bad_answer
    )
    async with FHIRClient(fhir_server) as client:
        consultant = EHRConsultant(
            client=client,
            model=agent_model,
            link=case.ehr,
            graph=build_graph(),
            options=AgentOptions(),
            thread_id="t",
            no_answer_text="The record assistant had no answer.",
        )
        answer = await consultant.ask("Any allergies?")
    assert answer.exchange.text == "The record assistant had no answer."
    assert answer.exchange.note == "the EHR agent failed: LLMOutputError"
    assert answer.citations == []


def test_simulate_cases_command_writes_the_case_file(
    synthea_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ehr.jsonl"
    code = main(
        ["simulate-cases", "--bundles", str(synthea_dir / BUNDLE), "--out", str(out), "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    expected = build_ehr_cases([synthea_dir / BUNDLE])
    assert code == 0
    assert document["cases"] == len(expected.cases)
    assert [json.loads(line) for line in out.read_text().splitlines()] == expected.cases
    code = main(["simulate-cases", "--bundles", str(tmp_path / "absent"), "--out", str(out)])
    assert code == 1
    assert "no such file or folder" in " ".join(capsys.readouterr().err.split())


def _cite_in_request(body: dict[str, Any]) -> str:
    text = "\n".join(str(m.get("content")) for m in body["messages"])
    handle = re.findall(r"\[(C\d+)\]", text)[0]
    return json.dumps(
        {"answer": f"She sprained an ankle before [{handle}].", "citations": [handle]}
    )


def test_simulate_command_answers_query_ehr_from_the_fhir_server(
    fhir_server: str, synthea_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _wrist_case(synthea_dir, tmp_path)
    assert case.ehr is not None
    line = next(
        json.loads(raw)
        for raw in (tmp_path / "cases.jsonl").read_text().splitlines()
        if json.loads(raw)["id"] == case.id
    )
    cases = tmp_path / "one.jsonl"
    cases.write_text(json.dumps(line) + "\n")
    doctor_and_agent = [
        {
            "content": json.dumps({"action": "query_ehr", "text": "Earlier injuries?"}),
            "match": {"schema": "doctor_action"},
        },
        {
            "content": json.dumps({"action": "diagnose", "text": "Sprain of wrist"}),
            "match": {"schema": "doctor_action", "contains": "Record: She sprained"},
        },
        {
            "content": json.dumps(
                {"enough": False, "calls": [{"tool": "search", "type": "Condition"}]}
            ),
            "match": {"schema": "plan"},
        },
        {"content": json.dumps({"enough": True, "calls": []}), "match": {"schema": "plan"}},
        _cite_in_request,
    ]
    with ExitStack() as stack:
        doctor = stack.enter_context(ScriptedOpenAIServer(doctor_and_agent, model="doc"))
        judge = stack.enter_context(ScriptedOpenAIServer(["Yes"], model="judge"))
        empty = stack.enter_context(ScriptedOpenAIServer([], model="unused"))
        argv = [
            "simulate",
            "--cases",
            str(cases),
            "--llm-url",
            doctor.base_url,
            "--patient-url",
            empty.base_url,
            "--measurement-url",
            empty.base_url,
            "--moderator-url",
            judge.base_url,
            "--fhir-url",
            fhir_server,
            "--json",
        ]
        code = main([*argv, "--out", str(tmp_path / "run")])
        document = json.loads(capsys.readouterr().out)
        assert code == 0
        assert document["summary"]["accuracy"]["moderator"]["correct"] == 1
        turns = [
            json.loads(t)
            for t in (tmp_path / "run" / "transcripts" / f"{case.id}.jsonl")
            .read_text()
            .splitlines()
        ]
        assert [t["role"] for t in turns] == ["doctor", "ehr", "doctor", "moderator"]
        assert turns[1]["citations"][0].startswith("Condition/")
        assert turns[1]["model"] == "doc"
        schemas = [
            (r.get("response_format") or {}).get("json_schema", {}).get("name")
            for r in doctor.requests
            if "messages" in r
        ]
        assert schemas == ["doctor_action", "plan", "plan", "answer", "doctor_action"]

        # A case whose patient the server does not hold is refused before any model call.
        line["id"] = "ghost"
        line["ehr"]["patient_id"] = "no-such-patient"
        cases.write_text(json.dumps(line) + "\n")
        asked = len(doctor.requests)
        code = main([*argv, "--out", str(tmp_path / "ghost")])
        assert code == 1
        assert "Patient/no-such-patient" in " ".join(capsys.readouterr().err.split())
        assert len([r for r in doctor.requests[asked:] if "messages" in r]) == 0

"""``ehr-agent eval run`` end to end: the real FHIR server and a scripted model, over HTTP.

The model is a scripted OpenAI-compatible server that answers each question right or
wrong on purpose (the gold answers come from the dataset, which the builder computed
from the raw bundles), so the scores, the records, the resume and the error accounting
are checked against what the test decided, not against the runner's own output.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fhir_ground_truth import RawSynthea
from tools_truth import raw_demographics

from agent.cli import main
from agent.llm.scripted_server import ScriptedOpenAIServer
from evals.builder import BuildResult
from evals.dataset import QAItem, write_items
from fhir_fixtures.server import BackgroundServer

AS_OF_ANSWER_TYPES = ("yes_no", "number")


@pytest.fixture(scope="module")
def items(default_build: BuildResult) -> list[QAItem]:
    """Two patients, a yes/no and a number question each (4 items)."""
    chosen: list[QAItem] = []
    patients = sorted({i.patient_id for i in default_build.items})
    for patient in patients:
        mine = [i for i in default_build.items if i.patient_id == patient]
        picks = [next((i for i in mine if i.answer_type == t), None) for t in AS_OF_ANSWER_TYPES]
        if all(picks):
            chosen.extend(p for p in picks if p is not None)
        if len(chosen) == 4:
            return chosen
    raise AssertionError("the shared data lacks two patients with both answer types")


@pytest.fixture
def dataset(tmp_path: Path, items: list[QAItem]) -> Path:
    path = tmp_path / "dataset.jsonl"
    write_items(items, path)
    return path


class Examiner:
    """Decides, per question, whether the scripted model answers right or wrong."""

    def __init__(self, items: list[QAItem], right: set[str], fail: set[str] = frozenset()):
        self.items = items
        self.right = right
        self.fail = fail
        self.asked: list[str] = []  # item ids, one per answer request
        self.plans = 0
        self.arrivals: list[float] = []
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def item_for(self, text: str) -> QAItem:
        found = [i for i in self.items if i.question in text]
        assert len(found) == 1, "each request is about exactly one dataset question"
        return found[0]

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        text = "\n".join(
            str(m.get("content")) for m in body["messages"] if isinstance(m.get("content"), str)
        )
        schema = body["response_format"]["json_schema"]
        with self._lock:
            self.bodies.append(body)
            self.arrivals.append(time.monotonic())
            if schema["name"] == "plan":
                self.plans += 1
                return {"content": json.dumps({"enough": True, "calls": []})}
            item = self.item_for(text)
            self.asked.append(item.id)
        if item.id in self.fail:
            return {"status": 400, "error": "scripted refusal"}
        value: Any = item.gold
        if item.id not in self.right:
            value = (
                ("no" if item.gold == "yes" else "yes")
                if item.answer_type == "yes_no"
                else (float(item.gold) + 1000)
            )
        handles = _citable(schema["schema"])
        reply = {"answer": f"{value}", "citations": handles[:1], "value": value}
        if item.unit:
            reply["unit"] = item.unit
        return {"content": json.dumps(reply), "delay": 0.0}


def _citable(schema: dict[str, Any]) -> list[str]:
    """The handles the answer schema allows as citations (empty when unconstrained)."""
    items = schema.get("properties", {}).get("citations", {}).get("items", {})
    if "$ref" in items:
        items = schema["$defs"][items["$ref"].rsplit("/", 1)[-1]]
    return list(items.get("enum", []))


@pytest.fixture
def fhir(loaded_fhir_server: BackgroundServer) -> BackgroundServer:
    loaded_fhir_server.access_log.clear()
    return loaded_fhir_server


def _run(dataset: Path, out: Path, strategy: str, fhir_url: str, llm_url: str, *extra: str) -> int:
    return main(
        [
            "eval", "run", "--dataset", str(dataset), "--strategy", strategy,
            "--out", str(out), "--fhir-url", fhir_url, "--llm-url", llm_url,
            "--llm-model", "scripted", "--data-dir", str(out.parent / "state"), *extra,
        ]
    )  # fmt: skip


def _records(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len({r["id"] for r in records}) == len(records), "no item is recorded twice"
    return {r["id"]: r for r in records}


@pytest.mark.parametrize("strategy", ["agent", "full-context", "no-record"])
def test_each_strategy_scores_what_the_model_answered(
    tmp_path: Path,
    dataset: Path,
    items: list[QAItem],
    fhir: BackgroundServer,
    raw_synthea: RawSynthea,
    strategy: str,
) -> None:
    right = {items[0].id, items[3].id}
    examiner = Examiner(items, right)
    out = tmp_path / "run"
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        assert _run(dataset, out, strategy, fhir.base_url, llm.base_url) == 0

    records = _records(out)
    assert set(records) == {i.id for i in items}
    for item in items:
        record = records[item.id]
        assert record["strategy"] == strategy
        assert record["error"] is None
        assert record["gold"] == item.gold
        assert record["evidence_ids"] == item.evidence_ids
        assert record["score"]["correct"] is (item.id in right), record["score"]["detail"]
        assert record["usage"]["llm_calls"] >= 1
        assert record["usage"]["prompt_tokens"] > 0
    assert sorted(examiner.asked) == sorted(i.id for i in items)  # one answer call each

    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["correct"] == 2
    assert summary["overall"]["answered"] == 4
    assert summary["overall"]["errors"] == 0
    run = json.loads((out / "run.json").read_text())
    assert run["strategy"] == strategy
    assert run["dataset_sha256"] == hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert run["model"] == "scripted"
    assert run["items"] == 4

    requested = [e for e in fhir.access_log.entries]
    patients = {i.patient_id for i in items}
    if strategy == "no-record":
        assert examiner.plans == 0
        assert requested == [], "no-record reads nothing from the FHIR server"
        assert all(r["shown"] == [] for r in records.values())
    else:
        # Only the two patients' records were read, each by its own searches.
        assert requested, "the record was read over HTTP"
        for entry in requested:
            assert any(p in entry.path + "?" + entry.query for p in patients), entry.path
        for item in items:
            assert f"Patient/{item.patient_id}" in records[item.id]["shown"]
    if strategy == "agent":
        assert examiner.plans == 4  # one planning call each (the script says "enough")
    if strategy == "full-context":
        assert examiner.plans == 0
        for item in items:
            record = records[item.id]
            assert 0 < record["context_tokens"] <= run["context_tokens"]
            assert record["record_tokens"] >= record["context_tokens"]
        # The record opens with the patient line: language, race and ethnicity included.
        for body in examiner.bodies:
            prompt = json.dumps(body["messages"])
            item = examiner.item_for(prompt.replace("\\n", "\n"))
            for label, value in raw_demographics(raw_synthea.patients[item.patient_id]).items():
                assert f"{label} {value}" in prompt, label


def test_full_context_cuts_the_record_to_the_budget(
    tmp_path: Path, dataset: Path, items: list[QAItem], fhir: BackgroundServer
) -> None:
    examiner = Examiner(items, right=set())
    out = tmp_path / "run"
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        code = _run(
            dataset, out, "full-context", fhir.base_url, llm.base_url, "--context-tokens", "400"
        )
    assert code == 0
    for record in _records(out).values():
        assert record["context_tokens"] <= 400
        assert record["record_tokens"] > 400  # the whole record is far bigger
    prompts = [json.dumps(b["messages"]) for b in examiner.bodies]
    assert all("cut to fit the context" in p for p in prompts)


def test_an_interrupted_run_resumes_where_it_stopped(
    tmp_path: Path, dataset: Path, items: list[QAItem], fhir: BackgroundServer
) -> None:
    out = tmp_path / "run"
    examiner = Examiner(items, right={i.id for i in items})
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        assert _run(dataset, out, "no-record", fhir.base_url, llm.base_url) == 0
        lines = (out / "results.jsonl").read_text().splitlines()
        # As if the process died while writing the third record: two whole lines and a torn one.
        (out / "results.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:25])
        kept = {json.loads(line)["id"] for line in lines[:2]}
        examiner.asked.clear()
        assert _run(dataset, out, "no-record", fhir.base_url, llm.base_url) == 0

    assert sorted(examiner.asked) == sorted(i.id for i in items if i.id not in kept)
    # Every line is whole again (the torn one was cut, not glued to the next record).
    assert sorted(_records(out)) == sorted(i.id for i in items)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["correct"] == 4


def test_a_run_with_another_setup_is_refused_and_nothing_is_touched(
    tmp_path: Path,
    dataset: Path,
    items: list[QAItem],
    fhir: BackgroundServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    examiner = Examiner(items, right=set())
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        assert _run(dataset, out, "no-record", fhir.base_url, llm.base_url) == 0
        before = (out / "results.jsonl").read_bytes(), (out / "run.json").read_bytes()
        examiner.asked.clear()
        code = _run(dataset, out, "full-context", fhir.base_url, llm.base_url)
    assert code == 1
    assert "different strategy" in capsys.readouterr().err
    assert examiner.asked == []
    assert ((out / "results.jsonl").read_bytes(), (out / "run.json").read_bytes()) == before


def test_infrastructure_failures_are_counted_apart_from_wrong_answers(
    tmp_path: Path, dataset: Path, items: list[QAItem], fhir: BackgroundServer
) -> None:
    refused = items[1].id
    examiner = Examiner(items, right={items[0].id}, fail={refused})
    out = tmp_path / "run"
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        assert _run(dataset, out, "agent", fhir.base_url, llm.base_url) == 0
    records = _records(out)
    assert records[refused]["error"]
    assert records[refused]["score"] is None
    assert all(records[i.id]["error"] is None for i in items if i.id != refused)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["errors"] == 1
    assert summary["overall"]["answered"] == 3
    assert summary["overall"]["correct"] == 1


def test_a_fhir_outage_is_an_error_on_every_item_not_a_wrong_answer(
    tmp_path: Path, dataset: Path, items: list[QAItem]
) -> None:
    closed = BackgroundServer(tmp_path / "empty.sqlite", validate=False)
    with closed:
        url = closed.base_url
    examiner = Examiner(items, right={i.id for i in items})
    out = tmp_path / "run"
    with ScriptedOpenAIServer([examiner], repeat_last=True) as llm:
        assert _run(dataset, out, "agent", url, llm.base_url) == 0
    records = _records(out)
    assert all(r["error"] and r["score"] is None for r in records.values())
    assert examiner.asked == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["errors"] == 4
    assert summary["overall"]["answered"] == 0


def test_concurrency_keeps_several_questions_in_flight(
    tmp_path: Path, dataset: Path, items: list[QAItem], fhir: BackgroundServer
) -> None:
    examiner = Examiner(items, right={i.id for i in items})

    def slow(body: dict[str, Any]) -> dict[str, Any]:
        return {**examiner(body), "delay": 1.5}

    out = tmp_path / "run"
    with ScriptedOpenAIServer([slow], repeat_last=True) as llm:
        code = _run(dataset, out, "no-record", fhir.base_url, llm.base_url, "--concurrency", "4")
    assert code == 0
    assert len(_records(out)) == 4
    # Each reply takes 1.5 s: one after another, arrivals would be >= 1.5 s apart.
    assert max(examiner.arrivals) - min(examiner.arrivals) < 1.5

"""``ehr-agent bench eval``, briefly: the real runner against a simulated batching server.

The simulated server stands in for a GPU (there is none here); the runner, the dataset and
the FHIR server are real. Checked: every item answered without errors, the LLM calls each
strategy makes per item, and that the runner keeps one request in flight at concurrency 1
and several at a higher concurrency.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from agent.cli import main
from evals.bench.bench_eval import SimulatedBatchingServer


def test_bench_eval_keeps_requests_in_flight(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["bench", "eval", "--patients", "2", "--items", "6", "--concurrency", "1,3"]
    argv += ["--llm-latency", "0.05", "--out", str(out)]
    assert main(argv) == 0
    doc = json.loads((out / "eval.json").read_text())
    rows = {(r["strategy"], r["concurrency"]): r for r in doc["rows"]}
    assert set(rows) == {(s, c) for s in ("agent", "full-context") for c in (1, 3)}
    for (strategy, concurrency), row in rows.items():
        assert row["errors"] == 0
        assert row["items"] == (6 if concurrency == 1 else 12)  # at least 4 per slot
        # instant replies: agent = plan, plan (enough), answer; full-context = answer
        assert row["llm_calls_per_item"] == (3.0 if strategy == "agent" else 1.0)
        assert row["items_per_s"] > 0
        assert row["fhir_cpu_ms_per_item"] is not None
    for strategy in ("agent", "full-context"):
        assert rows[(strategy, 1)]["requests_in_flight_peak"] == 1
        assert 2 <= rows[(strategy, 3)]["requests_in_flight_peak"] <= 3
        assert rows[(strategy, 3)]["ideal_speedup"] == 3.0
    assert "| agent | 3 | 12 |" in (out / "eval.md").read_text()


@pytest.mark.parametrize(
    "args", [["--concurrency", "0"], ["--concurrency", "2,x"], ["--strategies", "oracle"]]
)
def test_bench_eval_refuses_bad_lists(args: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["bench", "eval", *args, "--out", str(tmp_path)])
    assert caught.value.code == 2


def test_bench_eval_refuses_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "eval", "--items", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--items, --llm-latency and --llm-batch must be positive" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_simulated_server_queues_beyond_its_batch() -> None:
    # batch 2, 0.2 s each: of four requests sent at once, two wait for the first two.
    async def ask(url: str) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            body = {"messages": [{"role": "user", "content": "Question: any conditions?"}]}
            reply = await client.post(f"{url}/chat/completions", json=body)
            assert reply.status_code == 200
            assert "The record shows this [PT1]" in reply.json()["choices"][0]["message"]["content"]

    async def ask_four(url: str) -> None:
        await asyncio.gather(*(ask(url) for _ in range(4)))

    with SimulatedBatchingServer(latency_s=0.2, batch=2) as server:
        started = time.monotonic()
        asyncio.run(ask_four(server.base_url))
        took = time.monotonic() - started
        spans = server.take_spans()
    assert len(spans) == 4
    assert took >= 0.4  # two rounds of 0.2 s
    starts = sorted(start for start, _ in spans)
    ends = sorted(end for _, end in spans)
    assert all(round(end - start, 6) == 0.2 for start, end in spans)
    # never more than two served at once: the third and fourth start as earlier ones end
    assert starts[2] >= ends[0] - 1e-9
    assert starts[3] >= ends[1] - 1e-9

"""``ehr-agent bench eval``: does the eval runner keep a model server busy as --concurrency grows?

A GPU server with continuous batching (vLLM) answers many requests in about the time of
one, so an eval of MedGemma is fast only if the runner keeps enough requests in flight.
There is no GPU here, so the model is a simulated OpenAI-compatible server on loopback
standing in for vLLM: every chat completion takes ``--llm-latency`` seconds however many are
in flight, up to ``--llm-batch`` at once (later ones queue), which is continuous batching
in its ideal form. Its replies are the instant model's (one Condition search, then an
answer citing what it found). Everything else is real: ``ehr-agent eval run`` in a child
process, as a user runs it; the dataset built from the bundles by ``evals.builder``; the
embedded FHIR server, in its own process, holding the bundles and read over HTTP.

For each strategy and concurrency it reports items per second; the speedup over
concurrency 1 next to the ideal one (the concurrency, while the simulated server is not
full); the mean number of requests the model server was serving, the figure a GPU server
turns into throughput; and CPU per item of the runner (its start-up, measured by running
the finished command again, taken off) and of the FHIR server, which is where scaling stops
on a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.llm.scripted_server import ScriptedOpenAIServer
from evals.bench.bench_backend import cpu_seconds, instant_reply
from evals.bench.bench_tools import (
    add_common_arguments,
    bundles_from_args,
    figures_table,
    print_figures,
    serve_bundles,
    write_results,
)

__all__ = ["EvalBenchRow", "SimulatedBatchingServer", "register"]

_STRATEGIES = ("agent", "full-context", "no-record")
ROUNDS = 4
"""A run at concurrency ``c`` answers at least ``ROUNDS * c`` items."""
_MODEL = "simulated-vllm"


class SimulatedBatchingServer(ScriptedOpenAIServer):
    """An OpenAI-compatible server whose every reply takes the same time, batched.

    A request is served for ``latency_s`` seconds as soon as fewer than ``batch`` are being
    served, else after the earliest of them finishes (first come, first served). Replies
    come from :func:`instant_reply`. Only the service intervals are kept, not the requests.
    """

    def __init__(self, latency_s: float, batch: int) -> None:
        super().__init__([self._step], model=_MODEL, repeat_last=True)
        self.latency_s = latency_s
        self.batch = batch
        self._ends: list[float] = []  # finishing times of the requests being served
        self._spans: list[tuple[float, float]] = []
        self._span_lock = threading.Lock()

    def _record(self, body: dict[str, Any]) -> None:  # keep nothing per request
        return

    def _step(self, body: dict[str, Any]) -> dict[str, Any]:
        arrived = time.monotonic()
        with self._span_lock:
            self._ends = sorted(end for end in self._ends if end > arrived)
            start = arrived if len(self._ends) < self.batch else self._ends[-self.batch]
            end = start + self.latency_s
            self._ends.append(end)
            self._spans.append((start, end))
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        return {"content": instant_reply(schema, _last_text(body)), "delay": end - arrived}

    def take_spans(self) -> list[tuple[float, float]]:
        """The service intervals since the last call (and forget them)."""
        with self._span_lock:
            spans, self._spans = self._spans, []
        return spans


def _last_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content")
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def _in_flight(spans: list[tuple[float, float]]) -> tuple[float, int]:
    """Mean (over the spans' whole extent) and peak number of overlapping spans."""
    if not spans:
        return 0.0, 0
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    extent = max(e for _, e in spans) - min(s for s, _ in spans)
    busy = sum(e - s for s, e in spans)
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return (busy / extent if extent > 0 else float(len(spans))), peak


@dataclass(frozen=True)
class EvalBenchRow:
    """One ``eval run`` at one concurrency."""

    strategy: str
    concurrency: int
    items: int
    errors: int
    seconds: float
    items_per_s: float
    speedup: float
    ideal_speedup: float
    llm_calls_per_item: float
    requests_in_flight_mean: float
    requests_in_flight_peak: int
    runner_cpu_ms_per_item: float
    fhir_cpu_ms_per_item: float | None
    model_server_cpu_ms_per_item: float


def _cpu_seconds(pid: int | None) -> float | None:
    return None if pid is None else cpu_seconds(pid)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _eval_run(
    dataset: Path,
    strategy: str,
    concurrency: int,
    items: int,
    fhir_url: str,
    llm_url: str,
    work: Path,
) -> dict[str, Any]:
    """``ehr-agent eval run`` in a child process; its summary.json."""
    out = work / f"{strategy}-c{concurrency}"
    command = [
        sys.executable, "-m", "agent.cli", "eval", "run",
        "--dataset", str(dataset), "--strategy", strategy,
        "--per-category", "1000", "--seed", "0", "--limit", str(items),
        "--concurrency", str(concurrency),
        "--fhir-url", fhir_url, "--llm-url", llm_url, "--llm-model", _MODEL,
        "--data-dir", str(work / "data"), "--out", str(out),
    ]  # fmt: skip
    # the user's EHR_AGENT_* settings must not change what is measured
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHR_AGENT_")}
    done = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        from agent.cli_common import UserError

        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise UserError(
            f"eval run ({strategy}, concurrency {concurrency}) failed with exit code "
            f"{done.returncode}: " + " / ".join(tail)
        )
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def _measure(args: argparse.Namespace, work: Path) -> tuple[list[EvalBenchRow], dict[str, Any]]:
    from agent.cli_common import UserError, err_console
    from evals.builder import BuildOptions, build_dataset
    from evals.dataset import write_items

    bundles, files = bundles_from_args(args)
    console = err_console()
    console.print(f"building the dataset and loading {len(files)} bundle files from {bundles} ...")
    dataset = work / "dataset.jsonl"
    built = build_dataset(files, BuildOptions())
    write_items(built.items, dataset)
    if len(built.items) < args.items:
        raise UserError(f"the bundles give {len(built.items)} items, fewer than --items")

    def items_for(concurrency: int) -> int:
        # at least ROUNDS items per slot, so that the start and the tail do not dominate
        return min(len(built.items), max(args.items, ROUNDS * concurrency))

    rows: list[EvalBenchRow] = []
    with (
        serve_bundles(files, server=args.server) as served,
        SimulatedBatchingServer(args.llm_latency, args.llm_batch) as model,
    ):
        for strategy in args.strategies:
            base_rate = None
            startup_cpu = None
            for concurrency in args.concurrency:
                console.print(f"{strategy}, concurrency {concurrency} ...")
                cpu_before = _children_cpu()
                fhir_before = _cpu_seconds(served.pid)
                model.take_spans()
                own_before = time.process_time()  # this process: the simulated server
                summary = _eval_run(
                    dataset, strategy, concurrency, items_for(concurrency), served.base_url,
                    model.base_url, work,
                )  # fmt: skip
                model_cpu = time.process_time() - own_before
                runner_cpu = _children_cpu() - cpu_before
                mean_flight, peak_flight = _in_flight(model.take_spans())
                fhir_after = _cpu_seconds(served.pid)
                if startup_cpu is None:
                    # the same command again has nothing left to do (the run resumes): what
                    # a run costs besides its items (start-up, imports, the summary)
                    before = _children_cpu()
                    _eval_run(
                        dataset, strategy, concurrency, items_for(concurrency),
                        served.base_url, model.base_url, work,
                    )  # fmt: skip
                    startup_cpu = _children_cpu() - before
                    model.take_spans()
                runner_cpu = max(0.0, runner_cpu - startup_cpu)
                fhir_cpu = None
                if fhir_after is not None and fhir_before is not None:
                    fhir_cpu = fhir_after - fhir_before
                seconds = float(summary["wall_seconds_this_invocation"])
                done = int(summary["overall"]["n"])
                rate = done / seconds if seconds > 0 else 0.0
                base_rate = base_rate or rate
                rows.append(
                    EvalBenchRow(
                        strategy=strategy,
                        concurrency=concurrency,
                        items=done,
                        errors=int(summary["overall"]["errors"]),
                        seconds=round(seconds, 1),
                        items_per_s=round(rate, 2),
                        speedup=round(rate / base_rate, 2) if base_rate else 0.0,
                        ideal_speedup=round(
                            min(concurrency, args.llm_batch)
                            / min(args.concurrency[0], args.llm_batch),
                            2,
                        ),
                        llm_calls_per_item=float(summary["cost"]["llm_calls_mean"] or 0.0),
                        requests_in_flight_mean=round(mean_flight, 1),
                        requests_in_flight_peak=peak_flight,
                        runner_cpu_ms_per_item=round(1000 * runner_cpu / done, 1),
                        fhir_cpu_ms_per_item=(
                            None if fhir_cpu is None else round(1000 * fhir_cpu / done, 1)
                        ),
                        model_server_cpu_ms_per_item=round(1000 * model_cpu / done, 1),
                    )
                )
    setup = {
        "bundles": str(bundles),
        "patients": len(served.patient_ids),
        "dataset_items": len(built.items),
        "items_per_run": f"max({args.items}, {ROUNDS} x concurrency)",
        "llm_latency_s": args.llm_latency,
        "llm_batch": args.llm_batch,
        "fhir_server": served.server,
        "cores": os.cpu_count() or 0,
    }
    return rows, setup


def _tables(doc: dict[str, Any]) -> list[Any]:
    rows = [
        [
            f"{r['strategy']} c={r['concurrency']}",
            f"{r['items_per_s']:.2f}",
            f"{r['speedup']:.1f}/{r['ideal_speedup']:.0f}x",
            f"{r['requests_in_flight_mean']:.1f} ({r['requests_in_flight_peak']})",
            f"{r['llm_calls_per_item']:.2f}",
            f"{r['runner_cpu_ms_per_item']:.0f}",
            "–" if r["fhir_cpu_ms_per_item"] is None else f"{r['fhir_cpu_ms_per_item']:.0f}",
            str(r["errors"]),
        ]
        for r in doc["rows"]
    ]
    columns = ["items/s", "speedup", "in flight", "calls", "runner", "FHIR", "err"]
    return [
        figures_table(
            "Eval runner against a simulated batching server (speedup: measured/ideal; in "
            "flight: mean requests served (peak); per item: LLM calls, CPU ms of the runner "
            "and the FHIR server)",
            "run",
            columns,
            rows,
        )
    ]


def _markdown(doc: dict[str, Any]) -> str:
    setup = doc["setup"]
    lines = [
        "# Eval runner concurrency (simulated batching model server)",
        "",
        f"- items per run: {setup['items_per_run']}, from a dataset of {setup['dataset_items']} "
        f"built from {setup['patients']} patients; FHIR server in a {setup['fhir_server']}; "
        f"{setup['cores']} cores",
        f"- model: every completion takes {setup['llm_latency_s']:g} s, up to "
        f"{setup['llm_batch']} at once (continuous batching, ideal)",
        "",
        "| strategy | concurrency | items | items/s | speedup (ideal) | requests in flight, mean "
        "(peak) | LLM calls/item | CPU ms/item: runner | FHIR server | simulated model | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        fhir = "–" if r["fhir_cpu_ms_per_item"] is None else f"{r['fhir_cpu_ms_per_item']:.0f}"
        lines.append(
            f"| {r['strategy']} | {r['concurrency']} | {r['items']} | {r['items_per_s']:.2f} | "
            f"{r['speedup']:.1f}x ({r['ideal_speedup']:.0f}x) | "
            f"{r['requests_in_flight_mean']:.1f} ({r['requests_in_flight_peak']}) | "
            f"{r['llm_calls_per_item']:.2f} | {r['runner_cpu_ms_per_item']:.0f} | {fhir} | "
            f"{r['model_server_cpu_ms_per_item']:.0f} | {r['errors']} |"
        )
    lines.append("")
    return "\n".join(lines)


def _positive_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give whole numbers of at least 1, like 1,4,16")
    return values


def _strategies(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [n for n in names if n not in _STRATEGIES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"strategies are {', '.join(_STRATEGIES)}")
    return names


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import UserError

    if args.items < 1 or args.llm_latency <= 0 or args.llm_batch < 1:
        raise UserError("--items, --llm-latency and --llm-batch must be positive", exit_code=2)
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    try:
        rows, setup = _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    doc = {"setup": setup, "rows": [asdict(r) for r in rows]}
    markdown = _markdown(doc)
    write_results(args.out, "eval", doc, markdown)
    print_figures(doc, _tables, as_json=args.json, footer=f"written to {args.out}/eval.md")
    return 0


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench eval``."""
    parser = bench_sub.add_parser(
        "eval",
        help="eval runner throughput against --concurrency, with a simulated batching server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, "eval")
    parser.add_argument(
        "--strategies",
        type=_strategies,
        default=["agent", "full-context"],
        metavar="LIST",
        help="comma-separated strategies (agent,full-context)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_list,
        default=[1, 4, 16, 64],
        metavar="LIST",
        help="comma-separated concurrency levels; the first is the speedup's base (1,4,16,64)",
    )
    parser.add_argument(
        "--items",
        type=int,
        default=64,
        metavar="N",
        help=f"items per run (64); a run at concurrency C answers at least {ROUNDS} x C",
    )
    parser.add_argument(
        "--llm-latency",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds every simulated completion takes (0.5)",
    )
    parser.add_argument(
        "--llm-batch",
        type=int,
        default=256,
        metavar="N",
        help="completions the simulated server serves at once, like vLLM's max-num-seqs (256)",
    )
    parser.set_defaults(handler=_run)

"""``ehr-agent bench agent``: the agent's own overhead per question, LLM time excluded.

The model is :class:`evals.bench.bench_backend.InstantAgentModel`, a real chat model class
that answers at once (plan: one Condition search; then an answer citing what it found), so
the wall time of a question *is* the overhead: the graph, prompts and parsing, the record
overview, the evidence tools, the FHIR round trips on loopback HTTP and the citation check.
Nothing is subtracted.

The shared patients are loaded into a fresh embedded FHIR server (its own process by
default); the agent runs in this process, one question at a time, each question in a new
:class:`agent.session.AgentSession` (a one-shot question, as ``ask``, the eval runner and
the HTTP backend's new sessions do) sharing one compiled graph with an in-memory
checkpointer. Two passes over every patient:

- **no cache** (``index_cache_ttl_s=0``): every question builds the record index;
- **cache** (``index_cache_ttl_s`` > 0): the first question about a patient builds it, the
  next ones take it from the per-process index cache.

One unmeasured question first pays the one-off costs (lazy imports, first connections).
Target from the issue: p50 <= 30 ms per question.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.bench.bench_tools import (
    add_common_arguments,
    bundles_from_args,
    percentile,
    serve_bundles,
    write_results,
)

if TYPE_CHECKING:
    from rich.table import Table

    from agent.graph import AgentGraph
    from tools.fhir import FHIRClient

__all__ = ["QUESTIONS", "register"]

TARGET_P50_MS = 30.0
CACHE_TTL_S = 600.0
#: Asked in turn; the instant model plans the same way whatever the text, the graph does not.
QUESTIONS = (
    "Which conditions are on record?",
    "What medications is the patient taking?",
    "Has the patient had a flu shot?",
    "What was the most recent blood pressure?",
)


@dataclass
class _Question:
    run: str
    patient_id: str
    first_for_patient: bool
    ms: float
    cpu_ms: float
    llm_calls: int
    fhir_requests: int
    verified: bool
    citations: int


async def _ask(
    client: FHIRClient,
    graph: AgentGraph,
    patient: str,
    question: str,
    ttl_s: float,
) -> tuple[float, float, Any]:
    from agent.context import AgentOptions
    from agent.session import AgentSession
    from evals.bench.bench_backend import InstantAgentModel

    started, cpu = time.perf_counter(), time.process_time()
    session = AgentSession(
        client=client,
        model=InstantAgentModel(),
        patient_id=patient,
        options=AgentOptions(index_cache_ttl_s=ttl_s),
        graph=graph,
    )
    result = await session.ask(question)
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, result


async def _measure(
    base_url: str, patients: list[str], per_patient: int
) -> tuple[list[_Question], dict[str, int]]:
    from agent.checkpoint import open_checkpointer
    from agent.graph import build_graph
    from tools.fhir import FHIRClient
    from tools.index_cache import shared_index_cache

    asked: list[_Question] = []
    cache = shared_index_cache(CACHE_TTL_S)
    assert cache is not None
    cache.clear()
    async with FHIRClient(base_url) as client, open_checkpointer(":memory:") as saver:
        graph = build_graph(saver)
        await _ask(client, graph, patients[0], QUESTIONS[0], 0.0)  # one-off costs, unmeasured
        hits_before = cache.hits
        for run, ttl in (("no cache", 0.0), ("cache", CACHE_TTL_S)):
            for patient in patients:
                for number in range(per_patient):
                    question = QUESTIONS[number % len(QUESTIONS)]
                    ms, cpu_ms, result = await _ask(client, graph, patient, question, ttl)
                    asked.append(
                        _Question(
                            run=run,
                            patient_id=patient,
                            first_for_patient=number == 0,
                            ms=ms,
                            cpu_ms=cpu_ms,
                            llm_calls=result.usage["llm_calls"],
                            fhir_requests=result.usage["fhir_requests"],
                            verified=result.verified,
                            citations=len(result.citations),
                        )
                    )
    return asked, {"stored": len(cache), "hits": cache.hits - hits_before}


def _stats(questions: list[_Question]) -> dict[str, Any]:
    ms = [q.ms for q in questions]

    def mean(values: list[float] | list[int]) -> float:
        return round(statistics.fmean(values), 2) if values else 0.0

    return {
        "questions": len(questions),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms, default=float("nan")), 2),
        "mean_ms": mean(ms),
        "cpu_ms_mean": mean([q.cpu_ms for q in questions]),
        "llm_calls_per_question": mean([q.llm_calls for q in questions]),
        "fhir_requests_per_question": mean([q.fhir_requests for q in questions]),
        "verified": sum(q.verified for q in questions),
        "cited_nothing": sum(q.citations == 0 for q in questions),
    }


def _summarise(
    asked: list[_Question],
    cache: dict[str, int],
    *,
    bundles: Path,
    server: str,
    patients: int,
    per_patient: int,
    resources: int,
    seconds: float,
) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for run in ("no cache", "cache"):
        rows = [q for q in asked if q.run == run]
        figures = _stats(rows)
        figures["first_question_per_patient"] = _stats([q for q in rows if q.first_for_patient])
        figures["later_questions"] = _stats([q for q in rows if not q.first_for_patient])
        figures["meets_target"] = bool(figures["p50_ms"] <= TARGET_P50_MS)
        runs[run] = figures
    return {
        "bundles": str(bundles),
        "server": server,
        "patients": patients,
        "resources_loaded": resources,
        "questions_per_patient": per_patient,
        "question_texts": list(QUESTIONS[: min(per_patient, len(QUESTIONS))]),
        "model": "InstantAgentModel (answers at once: wall time is the agent's overhead)",
        "target_p50_ms": TARGET_P50_MS,
        "cache_ttl_s": CACHE_TTL_S,
        "index_cache": cache,
        "runs": runs,
        "seconds": round(seconds, 1),
    }


_ROWS: tuple[tuple[str, str | None], ...] = (
    ("all questions", None),
    ("first per patient", "first_question_per_patient"),
    ("later questions", "later_questions"),
)


def _table(doc: dict[str, Any]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"Agent overhead per question (instant model), {doc['patients']} patients, ms",
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column("run", no_wrap=True)
    table.add_column("questions", no_wrap=True)
    for name in ("n", "p50", "p95", "max", "cpu", "LLM", "FHIR"):
        table.add_column(name, justify="right")
    for run, figures in doc["runs"].items():
        for label, key in _ROWS:
            s = figures[key] if key else figures
            table.add_row(
                run,
                label,
                str(s["questions"]),
                f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}",
                f"{s['max_ms']:.1f}",
                f"{s['cpu_ms_mean']:.1f}",
                f"{s['llm_calls_per_question']:.1f}",
                f"{s['fhir_requests_per_question']:.1f}",
            )
    return table


def _markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Agent overhead benchmark (instant model)",
        "",
        f"- {doc['patients']} patients from `{doc['bundles']}`, FHIR server in a "
        f"{doc['server']} on loopback HTTP; {doc['questions_per_patient']} questions per "
        f"patient per run, one at a time, each in a new session; {doc['seconds']} s in all",
        "- the model answers instantly, so wall time per question is the agent's own overhead "
        "(graph, prompts, tools, FHIR round trips, citation check); nothing is subtracted",
        "- cpu = CPU ms of this process per question (the FHIR server's CPU is not in it "
        "when it runs in its own process)",
        "",
        "| run | questions | n | p50 ms | p95 ms | max ms | cpu ms | LLM calls | FHIR requests "
        "| verified |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run, figures in doc["runs"].items():
        for label, key in _ROWS:
            s = figures[key] if key else figures
            lines.append(
                f"| {run} | {label} | {s['questions']} | {s['p50_ms']:.1f} | "
                f"{s['p95_ms']:.1f} | {s['max_ms']:.1f} | {s['cpu_ms_mean']:.1f} | "
                f"{s['llm_calls_per_question']:.1f} | {s['fhir_requests_per_question']:.1f} | "
                f"{s['verified']} |"
            )
    verdict = {True: "meets", False: "misses"}
    no_cache, cache = doc["runs"]["no cache"], doc["runs"]["cache"]
    lines += [
        "",
        f"- target p50 <= {doc['target_p50_ms']:g} ms: no cache {no_cache['p50_ms']:.1f} ms "
        f"({verdict[no_cache['meets_target']]}), cache {cache['p50_ms']:.1f} ms "
        f"({verdict[cache['meets_target']]})",
        f"- index cache (ttl {doc['cache_ttl_s']:g} s): {doc['index_cache']['stored']} indexes "
        f"stored, {doc['index_cache']['hits']} hits",
        "",
    ]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import UserError, console, err_console, print_json

    if args.questions < 1:
        raise UserError("--questions must be at least 1", exit_code=2)
    bundles, files = bundles_from_args(args)
    err_console().print(f"loading {len(files)} bundle files from {bundles} ...")
    started = time.perf_counter()
    with serve_bundles(files, server=args.server) as served:
        asked, cache = asyncio.run(_measure(served.base_url, served.patient_ids, args.questions))
    doc = _summarise(
        asked,
        cache,
        bundles=bundles,
        server=served.server,
        patients=len(served.patient_ids),
        per_patient=args.questions,
        resources=served.resources,
        seconds=time.perf_counter() - started,
    )
    markdown = _markdown(doc)
    write_results(args.out, "agent", doc, markdown)
    if args.json:
        print_json(doc)
    else:
        out = console()
        out.print(_table(doc))
        out.print(markdown.split("|\n\n", 1)[-1])
    return 0


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench agent``."""
    parser = bench_sub.add_parser(
        "agent",
        help="the agent's own overhead per question with an instant model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, "agent")
    parser.add_argument(
        "--questions", type=int, default=4, metavar="N", help="questions per patient per run (4)"
    )
    parser.set_defaults(handler=_run)

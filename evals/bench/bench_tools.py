"""``ehr-agent bench tools``: evidence size (tokens) and latency of the evidence tools.

The shared Synthea patients are loaded over HTTP into a fresh embedded FHIR server (in a
process of its own by default, as a real server would be), then every patient gets the
same representative mix of tool calls through :class:`tools.session.EvidenceSession`,
exactly as the agent makes them: the record overview, five searches (types, a category and
concepts), two observation series (concepts the patient has), two reads of resources an
earlier call cited, and the timeline. Tokens are the project's own estimate
(:func:`tools.budget.estimate_tokens`) of the text the model would see.

Two passes:

- **cold**: a new session whose record index is not cached; its first call (the overview)
  builds the index (one search per clinical type), so first-call and later-call figures are
  reported apart;
- **warm**: a new session per patient whose index comes from the per-process
  :class:`tools.index_cache.IndexCache` that the cold pass filled.

The index build alone (a fresh session, no cache, ``session.index()``) is timed as well.
Target from the issue: p95 <= 50 ms per tool call on the shared patients; the overview must
stay within its ~1,500-token budget.

The helpers that locate the bundles and serve them (:func:`default_bundles_dir`,
:func:`select_bundles`, :func:`serve_bundles`) are shared with ``bench agent`` and
``bench concepts``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from tools.session import EvidenceSession

__all__ = [
    "ServedRecords",
    "ToolCall",
    "default_bundles_dir",
    "figures_table",
    "percentile",
    "print_figures",
    "register",
    "select_bundles",
    "serve_bundles",
]

TARGET_P95_MS = 50.0
OVERVIEW_BUDGET_TOKENS = 1500
_SHARED_PREFIXES = ("hospitalInformation", "practitionerInformation")
#: Measurements most records have, preferred for the first observation series.
_COMMON_MEASUREMENTS = ("29463-7", "39156-5", "8302-2", "55284-4", "2339-0", "4548-4")
#: Per patient: how many calls of each tool the mix makes (the mix is fixed, see _run_mix).
MIX_COUNTS: dict[str, int] = {
    "record_overview": 1,
    "search": 5,
    "observation_series": 2,
    "read": 2,
    "timeline": 1,
}
QUICK_PATIENTS = 3


# --- the shared patients on a local server (also used by bench agent and bench concepts) --


def default_bundles_dir() -> Path:
    """``shared/data/synthea-r4`` beside the checkout, else the shipped sample cohort."""
    from fhir_fixtures.cohort import DATA_DIR

    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-r4"
    return shared if shared.is_dir() else DATA_DIR


def select_bundles(bundles_dir: Path, patients: int = 0) -> list[Path]:
    """The loadable bundle files of ``bundles_dir``, shared organisation bundles first.

    Then the per-patient bundles sorted by name: only the first ``patients`` when > 0.
    """
    from fhir_fixtures.loader import discover_files

    files, problems = discover_files([bundles_dir])
    if problems:
        from agent.cli_common import UserError

        raise UserError(f"{bundles_dir}: {problems[0].error}", exit_code=2)
    shared = [p for p in files if p.name.startswith(_SHARED_PREFIXES)]
    own = sorted(p for p in files if not p.name.startswith(_SHARED_PREFIXES))
    return shared + (own[:patients] if patients > 0 else own)


@dataclass(frozen=True)
class ServedRecords:
    """A running FHIR server holding the loaded bundles."""

    base_url: str
    patient_ids: list[str]
    resources: int
    load_seconds: float
    server: str
    pid: int | None = None
    """The server's process id when it runs in its own process."""


def _serve_worker(db_path: str, conn: Connection) -> None:
    from fhir_fixtures.server import BackgroundServer

    with BackgroundServer(db_path, validate=False) as server:
        conn.send(server.base_url)
        conn.recv()  # until the parent says stop


async def _load(base_url: str, files: list[Path]) -> tuple[int, list[str]]:
    from agent.cli_common import UserError
    from fhir_fixtures.loader import load_paths
    from tools.fhir import FHIRClient

    async with FHIRClient(base_url, timeout=120) as client:
        report = await load_paths(files, client, progress=False)
        if report.failed:
            first = report.failed[0]
            raise UserError(f"{first.path.name} did not load: {first.error}")
        found = await client.search_all("Patient", [("_count", "200"), ("_elements", "id")])
    return report.resources, sorted(str(r["id"]) for r in found.resources)


@contextmanager
def serve_bundles(files: list[Path], *, server: str = "process") -> Iterator[ServedRecords]:
    """A fresh embedded FHIR server (validation off) with ``files`` loaded over HTTP.

    ``server="process"`` runs it in a child process, so that its CPU is not billed to the
    measured process through the GIL; ``"thread"`` runs it in this process, as the default
    embedded setup of ``ehr-agent ask`` does.
    """
    from fhir_fixtures.server import BackgroundServer

    work = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    db = work / "fhir.sqlite"
    try:
        if server == "thread":
            with BackgroundServer(db, validate=False) as background:
                yield _loaded(background.base_url, files, server)
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve_worker, args=(str(db), child), daemon=True)
        process.start()
        try:
            if not parent.poll(60):
                raise RuntimeError("the FHIR server process did not start within 60 s")
            yield _loaded(parent.recv(), files, server, process.pid)
        finally:
            if process.is_alive():
                parent.send("stop")
                process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _loaded(base_url: str, files: list[Path], server: str, pid: int | None = None) -> ServedRecords:
    started = time.perf_counter()
    resources, patients = asyncio.run(_load(base_url, files))
    return ServedRecords(
        base_url=base_url,
        patient_ids=patients,
        resources=resources,
        load_seconds=round(time.perf_counter() - started, 2),
        server=server,
        pid=pid,
    )


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method); NaN for no values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def add_common_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """``--out``, ``--bundles``, ``--patients``, ``--quick``, ``--server``, ``--json``."""
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR")
    parser.add_argument(
        "--bundles",
        type=Path,
        metavar="DIR",
        help="Synthea bundles to load (default: shared/data/synthea-r4 beside the checkout, "
        "else the shipped sample cohort)",
    )
    parser.add_argument(
        "--patients", type=int, default=0, metavar="N", help="only the first N patient bundles"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a small run: {QUICK_PATIENTS} patients"
    )
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the FHIR server in its own process (default) or in a thread of this one",
    )
    parser.add_argument("--json", action="store_true", help=f"print {name}.json on stdout")


def bundles_from_args(args: argparse.Namespace) -> tuple[Path, list[Path]]:
    """The bundle folder and files the common arguments select."""
    bundles = Path(args.bundles) if args.bundles else default_bundles_dir()
    patients = args.patients or (QUICK_PATIENTS if args.quick else 0)
    return bundles, select_bundles(bundles, patients)


def write_results(out: Path, name: str, document: dict[str, Any], markdown: str) -> None:
    """``<out>/<name>.json`` and ``<out>/<name>.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)


def figures_table(
    title: str, label: str, columns: Sequence[str], rows: Iterable[Sequence[str]]
) -> Table:
    """A table of figures: a label column, then right-aligned figure columns."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE, pad_edge=False)
    table.add_column(label, no_wrap=True)
    for name in columns:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def print_figures(
    doc: dict[str, Any],
    tables: Callable[[dict[str, Any]], list[Table]],
    *,
    as_json: bool,
    footer: str,
) -> None:
    """The results document as JSON, or its tables and then ``footer``, on standard output."""
    from agent.cli_common import console, print_json

    if as_json:
        print_json(doc)
        return
    out = console()
    for table in tables(doc):
        out.print(table)
    out.print(footer)


# --- the tools benchmark ---------------------------------------------------------------


@dataclass
class ToolCall:
    """One measured tool call."""

    run: str
    patient_id: str
    tool: str
    ms: float
    tokens: int
    fhir_requests: int
    first: bool
    error: bool


@dataclass
class _Tally:
    calls: list[ToolCall] = field(default_factory=list)
    index_ms: list[float] = field(default_factory=list)
    index_records: list[int] = field(default_factory=list)
    started: set[tuple[str, str]] = field(default_factory=set)


async def _call(
    session: EvidenceSession, tally: _Tally, run: str, tool: str, args: dict[str, Any]
) -> Any:
    from tools.budget import estimate_tokens
    from tools.fhir import track_requests

    first = (run, session.patient_id) not in tally.started
    tally.started.add((run, session.patient_id))
    with track_requests() as fhir:
        started = time.perf_counter()
        result = await session.run(tool, args)
        elapsed = time.perf_counter() - started
    tally.calls.append(
        ToolCall(
            run=run,
            patient_id=session.patient_id,
            tool=tool,
            ms=elapsed * 1000,
            tokens=estimate_tokens(result.text),
            fhir_requests=fhir.requests,
            first=first,
            error=result.error is not None,
        )
    )
    return result


def _cited(result: Any, resource_type: str) -> str | None:
    return next((r for r in result.citations if r.startswith(f"{resource_type}/")), None)


async def _run_mix(session: EvidenceSession, tally: _Tally, run: str) -> None:
    """The fixed mix of :data:`MIX_COUNTS` calls for one patient."""
    overview = await _call(session, tally, run, "record_overview", {})
    index = await session.index()  # built (or taken from the cache) by the overview
    measurements = [e for e in index.entries_of("Observation") if not e.component_of]
    common = [e for code in _COMMON_MEASUREMENTS for e in measurements if e.code == code]
    chosen = common or measurements
    first = chosen[0] if chosen else None
    other = next((e for e in measurements if e is not first), None)
    concept1 = first.display if first else "body weight"
    concept2 = other.display if other else "hemoglobin A1c"

    conditions = await _call(session, tally, run, "search", {"type": "Condition"})
    await _call(session, tally, run, "search", {"type": "MedicationRequest"})
    await _call(session, tally, run, "search", {"type": "Observation", "category": "laboratory"})
    await _call(session, tally, run, "search", {"type": "Immunization", "concept": "flu shot"})
    await _call(session, tally, run, "search", {"type": "Observation", "concept": concept1})
    series = await _call(session, tally, run, "observation_series", {"concept": concept1})
    await _call(session, tally, run, "observation_series", {"concept": concept2})
    ref1 = _cited(conditions, "Condition") or _cited(overview, "Condition") or session.patient_ref
    ref2 = _cited(series, "Observation") or session.patient_ref
    await _call(session, tally, run, "read", {"ref": ref1})
    await _call(session, tally, run, "read", {"ref": ref2})
    await _call(session, tally, run, "timeline", {})


async def _measure(base_url: str, patients: list[str]) -> tuple[_Tally, dict[str, int]]:
    from tools.fhir import FHIRClient
    from tools.index_cache import IndexCache
    from tools.session import EvidenceSession

    tally = _Tally()
    cache = IndexCache(ttl_s=3600.0, max_entries=max(256, len(patients)))
    async with FHIRClient(base_url) as client:
        await client.search_all("Patient", [("_count", "1"), ("_elements", "id")])  # connect
        for patient in patients:
            await _run_mix(EvidenceSession(client, patient, index_cache=cache), tally, "cold")
        for patient in patients:
            session = EvidenceSession(client, patient)
            started = time.perf_counter()
            index = await session.index()
            tally.index_ms.append((time.perf_counter() - started) * 1000)
            tally.index_records.append(len(index.records))
        built = len(cache)
        for patient in patients:
            await _run_mix(EvidenceSession(client, patient, index_cache=cache), tally, "warm")
    return tally, {"stored_by_cold_run": built, "hits_in_warm_run": cache.hits}


def _stats(calls: list[ToolCall]) -> dict[str, Any]:
    ms = [c.ms for c in calls]
    tokens = [c.tokens for c in calls]
    return {
        "calls": len(calls),
        "errors": sum(c.error for c in calls),
        "tokens_mean": round(statistics.fmean(tokens), 1) if tokens else 0.0,
        "tokens_max": max(tokens, default=0),
        "fhir_requests_mean": round(statistics.fmean(c.fhir_requests for c in calls), 2)
        if calls
        else 0.0,
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms, default=float("nan")), 2),
    }


def _summarise(
    tally: _Tally, cache: dict[str, int], served: ServedRecords, bundles: Path, seconds: float
) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for run in ("cold", "warm"):
        calls = [c for c in tally.calls if c.run == run]
        runs[run] = {
            "tools": {tool: _stats([c for c in calls if c.tool == tool]) for tool in MIX_COUNTS},
            "all": _stats(calls),
            "first_call": _stats([c for c in calls if c.first]),
            "later_calls": _stats([c for c in calls if not c.first]),
        }
        p95 = runs[run]["all"]["p95_ms"]
        runs[run]["meets_target"] = bool(p95 <= TARGET_P95_MS)
    per_patient: list[dict[str, Any]] = []
    for patient in served.patient_ids:
        cold = [c for c in tally.calls if c.run == "cold" and c.patient_id == patient]
        overview = next((c.tokens for c in cold if c.tool == "record_overview"), 0)
        per_patient.append(
            {
                "patient_id": patient,
                "overview_tokens": overview,
                "mix_tokens": sum(c.tokens for c in cold),
                "calls": len(cold),
            }
        )
    largest = max(per_patient, key=lambda p: p["overview_tokens"], default=None)
    overview_tokens = [p["overview_tokens"] for p in per_patient]
    mix_tokens = [p["mix_tokens"] for p in per_patient]
    return {
        "bundles": str(bundles),
        "server": served.server,
        "patients": len(served.patient_ids),
        "resources_loaded": served.resources,
        "load_seconds": served.load_seconds,
        "seconds": round(seconds, 1),
        "mix_per_patient": MIX_COUNTS,
        "target_p95_ms": TARGET_P95_MS,
        "runs": runs,
        "index_build": {
            "builds": len(tally.index_ms),
            "p50_ms": round(percentile(tally.index_ms, 50), 2),
            "p95_ms": round(percentile(tally.index_ms, 95), 2),
            "max_ms": round(max(tally.index_ms, default=float("nan")), 2),
            "records_mean": round(statistics.fmean(tally.index_records), 1)
            if tally.index_records
            else 0.0,
            "records_max": max(tally.index_records, default=0),
        },
        "index_cache": cache,
        "overview_tokens": {
            "budget": OVERVIEW_BUDGET_TOKENS,
            "mean": round(statistics.fmean(overview_tokens), 1) if overview_tokens else 0.0,
            "max": largest["overview_tokens"] if largest else 0,
            "largest_patient": largest["patient_id"] if largest else None,
            "within_budget": bool(
                largest is None or largest["overview_tokens"] <= OVERVIEW_BUDGET_TOKENS
            ),
        },
        "mix_tokens_per_patient": {
            "mean": round(statistics.fmean(mix_tokens), 1) if mix_tokens else 0.0,
            "max": max(mix_tokens, default=0),
        },
        "per_patient": per_patient,
    }


def _tables(doc: dict[str, Any]) -> list[Table]:
    columns = ("n", "err", "tok avg", "tok max", "req", "p50", "p95", "max")
    tables = []
    for run, figures in doc["runs"].items():
        title = (
            f"{run}: {doc['patients']} patients, FHIR server in a {doc['server']}, latency in ms"
        )
        rows = [*figures["tools"].items(), ("first call", figures["first_call"])]
        rows += [("later calls", figures["later_calls"]), ("all calls", figures["all"])]
        cells = [
            (
                tool,
                str(s["calls"]),
                str(s["errors"]),
                f"{s['tokens_mean']:.0f}",
                str(s["tokens_max"]),
                f"{s['fhir_requests_mean']:.1f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}",
                f"{s['max_ms']:.1f}",
            )
            for tool, s in rows
        ]
        tables.append(figures_table(title, "tool", columns, cells))
    return tables


def _markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Evidence tools benchmark",
        "",
        f"- {doc['patients']} patients from `{doc['bundles']}` ({doc['resources_loaded']:,} "
        f"resources, loaded over HTTP in {doc['load_seconds']} s); FHIR server in a "
        f"{doc['server']}; {doc['seconds']} s in all",
        f"- per patient: {', '.join(f'{n} x{k}' for k, n in doc['mix_per_patient'].items())}",
        "- tokens: `tools.budget.estimate_tokens` of the text the model sees; latency: wall "
        "time of `EvidenceSession.run` on loopback HTTP",
        "",
        "| run | tool | calls | errors | tokens mean | tokens max | FHIR req | p50 ms | p95 ms "
        "| max ms |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run, figures in doc["runs"].items():
        rows = [*figures["tools"].items(), ("first call", figures["first_call"])]
        rows += [("later calls", figures["later_calls"]), ("**all calls**", figures["all"])]
        for tool, s in rows:
            lines.append(
                f"| {run} | {tool} | {s['calls']} | {s['errors']} | {s['tokens_mean']:.0f} | "
                f"{s['tokens_max']} | {s['fhir_requests_mean']:.1f} | {s['p50_ms']:.1f} | "
                f"{s['p95_ms']:.1f} | {s['max_ms']:.1f} |"
            )
    ib, ov, mix = doc["index_build"], doc["overview_tokens"], doc["mix_tokens_per_patient"]
    cold, warm = doc["runs"]["cold"], doc["runs"]["warm"]
    verdict = {True: "meets", False: "misses"}
    lines += [
        "",
        f"- target p95 <= {doc['target_p95_ms']:g} ms per call: cold "
        f"{cold['all']['p95_ms']:.1f} ms ({verdict[cold['meets_target']]}), warm "
        f"{warm['all']['p95_ms']:.1f} ms ({verdict[warm['meets_target']]})",
        f"- index build alone (fresh session, no cache): p50 {ib['p50_ms']:.1f} ms, p95 "
        f"{ib['p95_ms']:.1f} ms, max {ib['max_ms']:.1f} ms; {ib['records_mean']:.0f} records "
        f"on average (max {ib['records_max']})",
        f"- index cache: {doc['index_cache']['stored_by_cold_run']} indexes stored by the cold "
        f"run, {doc['index_cache']['hits_in_warm_run']} hits in the warm run",
        f"- overview tokens per patient: mean {ov['mean']:.0f}, max {ov['max']} "
        f"(patient `{ov['largest_patient']}`), budget {ov['budget']}: "
        f"{'within' if ov['within_budget'] else 'OVER'}",
        f"- evidence tokens of the whole mix per patient: mean {mix['mean']:.0f}, max {mix['max']}",
        "",
    ]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import err_console

    bundles, files = bundles_from_args(args)
    err_console().print(f"loading {len(files)} bundle files from {bundles} ...")
    started = time.perf_counter()
    with serve_bundles(files, server=args.server) as served:
        tally, cache = asyncio.run(_measure(served.base_url, served.patient_ids))
    doc = _summarise(tally, cache, served, bundles, time.perf_counter() - started)
    markdown = _markdown(doc)
    write_results(args.out, "tools", doc, markdown)
    print_figures(doc, _tables, as_json=args.json, footer=markdown.split("|\n\n", 1)[-1])
    return 0


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench tools``."""
    parser = bench_sub.add_parser(
        "tools",
        help="evidence tool output size (tokens) and latency on the shared patients",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, "tools")
    parser.set_defaults(handler=_run)

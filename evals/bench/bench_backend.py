"""``ehr-agent bench backend``: throughput and latency of the HTTP backend itself.

The model answers instantly (:class:`InstantAgentModel`: one Condition search, then an
answer citing what it found), so the figures are the agent's and the backend's own cost:
HTTP, authentication, limits, the graph, the evidence tools, the FHIR round trips and
the checkpointer. Three processes share the machine, as they would on one host: the
embedded FHIR server with the sample cohort, the backend (``create_app``, served by
uvicorn) and the load generator (``--clients`` concurrent HTTP clients asking questions
about the cohort's patients round-robin). CPU seconds of each process are reported, so
that it is clear where the time goes. Profile the backend process with py-spy
(``--profile`` writes a flame graph when py-spy is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from agent.llm.scripted import ReplyingChatModel

__all__ = [
    "BackendBenchResult",
    "InstantAgentModel",
    "cpu_seconds",
    "instant_reply",
    "register",
]

_API_KEY = "bench-backend-key-0123456789"
_QUESTION = "Which conditions are on record?"
_HANDLE = re.compile(r"\[(C\d+)\]")


class InstantAgentModel(ReplyingChatModel):
    """A chat model that answers at once, like a script, for as many questions as asked.

    Plan calls (``response_format`` named ``plan``) ask for one Condition search, then say
    they have enough; answer calls cite the first Condition handle of the search result
    (or the patient, ``PT1``). The answer is streamed in word pieces like a real model.
    Nothing is recorded per call, so memory stays flat over a long run.
    """

    model_name: str = "instant"

    @property
    def _llm_type(self) -> str:
        return "instant"

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        schema = ((kwargs.get("response_format") or {}).get("json_schema") or {}).get("name")
        return instant_reply(schema, messages[-1].text if messages else "")


def instant_reply(schema: str | None, text: str) -> str:
    """The instant model's reply to a call whose last message is ``text``.

    ``schema`` is the ``response_format`` schema name: ``plan`` asks for one Condition
    search until a search result is shown; anything else is answered citing the first
    Condition handle after the last search result (in a full-context prompt, the record's
    first Condition), or the patient, ``PT1``.
    """
    if schema == "plan":
        if "Result of search" in text:
            return json.dumps({"enough": True, "calls": []})
        return json.dumps({"enough": False, "calls": [{"tool": "search", "type": "Condition"}]})
    found = _HANDLE.search(text.split("Result of search", 1)[-1])
    handle = found.group(1) if found else "PT1"
    return json.dumps({"answer": f"The record shows this [{handle}].", "citations": [handle]})


@dataclass
class BackendBenchResult:
    """What one run measured (CPU seconds are per process group, over the measured window)."""

    clients: int
    replicas: int
    max_concurrent: int
    seconds: float
    questions: int
    questions_per_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    statuses: dict[str, int]
    fhir_requests_per_question: float
    cpu_s: dict[str, float]
    cpu_per_question_ms: dict[str, float]
    cores: int
    patients: int
    checkpointer: str
    index_cache_ttl_s: float


@dataclass
class _Load:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    fhir_requests: int = 0


def _reserve_port() -> socket.socket:
    """A bound (not listening) socket holding a free port that replicas can share."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _fhir_worker(db_path: str, conn: Connection) -> None:
    from fhir_fixtures.server import BackgroundServer

    with BackgroundServer(db_path, validate=False) as server:
        conn.send(server.base_url)
        conn.recv()  # until the parent says stop


def _backend_worker(
    overrides: dict[str, Any], limits: dict[str, Any], port: int, conn: Connection
) -> None:
    import logging

    import uvicorn

    from agent.backend import BackendConfig, create_app
    from agent.config import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings.load(overrides, environ={})
    config = BackendConfig.from_settings(settings, api_keys=(_API_KEY,), **limits)
    app = create_app(settings, config, model=InstantAgentModel())
    # Replicas share the port (SO_REUSEPORT): the kernel spreads connections over them,
    # as a load balancer would spread them over hosts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, ws="none", lifespan="on")
    )
    conn.send(os.getpid())
    server.run(sockets=[sock])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_ready(url: str, replicas: int, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    ready = 0
    async with httpx.AsyncClient() as client:
        while ready < replicas:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the backend at {url} did not become ready")
            try:
                # New connections land on any replica: wait for several successes.
                ok = (await client.get(f"{url}/readyz", headers={"Connection": "close"})).is_success
            except httpx.TransportError:
                ok = False
            ready = ready + 1 if ok else 0
            await asyncio.sleep(0.05)


async def _patient_ids(fhir_url: str) -> list[str]:
    from tools.fhir import FHIRClient

    async with FHIRClient(fhir_url) as client:
        found = await client.search_all("Patient", [("_count", "100"), ("_elements", "id")])
    return sorted(str(r["id"]) for r in found.resources)


async def _drive(
    url: str,
    patients: list[str],
    clients: int,
    warmup_s: float,
    seconds: float,
    pids: dict[str, list[int]],
) -> tuple[_Load, dict[str, float]]:
    """Closed loop: each client asks, waits for the answer, asks again."""
    import httpx

    load = _Load()
    asked = 0
    start = time.monotonic()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {_API_KEY}"}

    async def client_loop(http: httpx.AsyncClient) -> None:
        nonlocal asked
        while time.monotonic() < stop_at:
            patient = patients[asked % len(patients)]
            asked += 1
            sent = time.monotonic()
            response = await http.post("/v1/ask", json={"question": _QUESTION, "patient": patient})
            done = time.monotonic()
            # Completions inside the window count, whenever they were sent: the throughput
            # of a closed loop is what finishes per second.
            if measure_from <= done <= stop_at:
                load.statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    load.latencies.append(done - sent)
                    load.fhir_requests += response.json()["usage"]["fhir_requests"]

    async def cpu_window() -> dict[str, float]:
        await asyncio.sleep(warmup_s)
        before = {name: sum(map(cpu_seconds, group)) for name, group in pids.items()}
        await asyncio.sleep(seconds)
        return {
            name: round(sum(map(cpu_seconds, group)) - before[name], 2)
            for name, group in pids.items()
        }

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300, headers=headers) as http:
        window = asyncio.create_task(cpu_window())
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
        cpu = await window
    return load, cpu


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _start_profiler(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    # Installed in the same environment, which need not be on PATH.
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        return None
    command = [py_spy, "record", "-p", str(pid), "--format", "raw", "-r", "50", "--nonblocking"]
    command += ["-d", str(int(seconds)), "-o", str(out / "backend-profile.folded")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import UserError, console, err_console, print_json
    from fhir_fixtures.embedded import ensure_sample_database

    if args.clients < 1 or args.replicas < 1 or args.seconds <= 0:
        raise UserError("--clients, --replicas and --seconds must be positive", exit_code=2)
    if args.patients is not None and args.patients < 1:
        raise UserError("--patients must be at least 1", exit_code=2)
    if args.index_cache_ttl is not None and args.index_cache_ttl < 0:
        raise UserError("--index-cache-ttl must be 0 (off) or more seconds", exit_code=2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-backend-"))
    db = (Path(args.data_dir) if args.data_dir else work) / "fhir.sqlite"
    if not db.exists():
        err_console().print("loading the sample cohort into a FHIR database (once)...")
    ensure_sample_database(db)
    checkpointer = args.checkpointer or str(work / "checkpoints.sqlite")
    ctx = multiprocessing.get_context("spawn")
    fhir_conn, fhir_child = ctx.Pipe()
    fhir_proc = ctx.Process(target=_fhir_worker, args=(str(db), fhir_child), daemon=True)
    backends: list[multiprocessing.process.BaseProcess] = []
    reserved = _reserve_port()
    profiler = None
    try:
        fhir_proc.start()
        fhir_url = fhir_conn.recv()
        overrides: dict[str, Any] = {
            "fhir_url": fhir_url,
            "data_dir": str(work),
            "checkpointer": checkpointer,
        }
        if args.index_cache_ttl is not None:
            overrides["index_cache_ttl_s"] = args.index_cache_ttl
        limits = {
            "max_concurrent": args.max_concurrent,
            "max_queue": args.clients,
            "queue_timeout_s": 300.0,
            "request_timeout_s": 300.0,
            "rate_per_minute": 0.0,
        }
        port = reserved.getsockname()[1]
        backend_pids = []
        for _ in range(args.replicas):
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=_backend_worker, args=(overrides, limits, port, child), daemon=True
            )
            process.start()
            backends.append(process)
            backend_pids.append(parent.recv())
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_ready(url, args.replicas))
        patients = asyncio.run(_patient_ids(fhir_url))[: args.patients]
        if args.profile:
            profiler = _start_profiler(backend_pids[0], out, args.warmup + args.seconds)
            if profiler is None:
                err_console().print("[yellow]py-spy is not installed: no profile[/]")
        pids = {
            "backend": backend_pids,
            "fhir_server": [fhir_proc.pid or 0],
            "load_generator": [os.getpid()],
        }
        load, cpu = asyncio.run(
            _drive(url, patients, args.clients, args.warmup, args.seconds, pids)
        )
        if profiler is not None:
            profiler.wait(timeout=60)
    finally:
        for backend in backends:
            backend.terminate()
        for backend in backends:
            backend.join(timeout=15)
        if fhir_proc.is_alive():
            fhir_conn.send("stop")
            fhir_proc.join(timeout=15)
        reserved.close()
        shutil.rmtree(work, ignore_errors=True)
    answered = len(load.latencies)
    result = BackendBenchResult(
        clients=args.clients,
        replicas=args.replicas,
        max_concurrent=args.max_concurrent,
        seconds=args.seconds,
        questions=answered,
        questions_per_s=round(answered / args.seconds, 1),
        latency_p50_s=round(_percentile(load.latencies, 50), 3),
        latency_p95_s=round(_percentile(load.latencies, 95), 3),
        latency_p99_s=round(_percentile(load.latencies, 99), 3),
        statuses=dict(load.statuses),
        fhir_requests_per_question=round(load.fhir_requests / answered, 1) if answered else 0.0,
        cpu_s=cpu,
        cpu_per_question_ms={
            name: round(1000 * value / answered, 1) if answered else 0.0
            for name, value in cpu.items()
        },
        cores=os.cpu_count() or 0,
        patients=len(patients),
        checkpointer=_describe_checkpointer(args.checkpointer),
        index_cache_ttl_s=_index_cache_ttl(args.index_cache_ttl),
    )
    document = asdict(result)
    (out / "backend.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / "backend.md").write_text(_markdown(result))
    if args.json:
        print_json(document)
    else:
        console().print(_markdown(result))
    return 0


def _index_cache_ttl(requested: float | None) -> float:
    from agent.config import Settings

    return requested if requested is not None else Settings.load({}, environ={}).index_cache_ttl_s


def _describe_checkpointer(target: str | None) -> str:
    if target is None:
        return "SQLite file"
    if target == ":memory:":
        return "SQLite in memory"
    return "Postgres" if target.startswith(("postgresql://", "postgres://")) else "SQLite file"


def _markdown(result: BackendBenchResult) -> str:
    cpu = ", ".join(
        f"{name} {result.cpu_s[name]:.1f} s ({result.cpu_per_question_ms[name]:.1f} ms/question)"
        for name in result.cpu_s
    )
    return (
        "# Backend benchmark (instant model)\n\n"
        f"- {result.clients} concurrent clients, {result.replicas} backend process(es) answering "
        f"at most {result.max_concurrent} questions each, {result.seconds:g} s measured on "
        f"{result.cores} cores; {result.patients} patients; checkpointer {result.checkpointer}; "
        f"record index cache {_describe_ttl(result.index_cache_ttl_s)}\n"
        f"- **{result.questions_per_s} questions/s** ({result.questions} answered; HTTP statuses "
        f"{result.statuses})\n"
        f"- latency p50 {result.latency_p50_s} s, **p95 {result.latency_p95_s} s**, "
        f"p99 {result.latency_p99_s} s\n"
        f"- {result.fhir_requests_per_question} FHIR requests per question\n"
        f"- CPU over the window: {cpu}\n"
    )


def _describe_ttl(ttl_s: float) -> str:
    return f"{ttl_s:g} s" if ttl_s > 0 else "off (every question builds the index)"


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench backend``."""
    parser = bench_sub.add_parser(
        "backend",
        help="HTTP backend throughput and latency with an instant model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first (5)")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="backend processes sharing the port, like replicas behind a balancer (1)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=16,
        metavar="N",
        help="questions each backend process answers at once; the rest queue (16, as serve)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the sample FHIR database here between runs (default: a temporary folder)",
    )
    parser.add_argument(
        "--checkpointer",
        metavar="TARGET",
        help="SQLite path, :memory: or postgresql:// URL (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--patients",
        type=int,
        metavar="N",
        help="ask about the first N patients of the cohort only (default: all 25)",
    )
    parser.add_argument(
        "--index-cache-ttl",
        type=float,
        metavar="SECONDS",
        help="seconds a patient's record index is reused (default: serve's default, "
        "EHR_AGENT_INDEX_CACHE_TTL_S); 0 builds it for every question",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="write backend-profile.folded (py-spy, collapsed stacks) for the first backend",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=_run)

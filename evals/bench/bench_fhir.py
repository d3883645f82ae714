"""``ehr-agent bench fhir``: the embedded FHIR server against sekmet-fhir, same data, same queries.

Both servers run as child processes on loopback (:mod:`fhir_fixtures.sekmet_harness`); the
client is this process. Two steps:

1. **shared**: the shared Synthea bundles (41 patients, organisations and practitioners first),
   each file one transaction of ``PUT Type/id`` over HTTP (validation off on ours, as
   ``ehr-agent fhir load`` does), into both servers;
2. **scale**: the patient bundles replicated under fresh deterministic ids (every resource id,
   reference and fullUrl rewritten to a name-based UUID; organisations and practitioners are
   shared, so replicas leave them out) until ``--patients`` patients are on file.

Each step measures load throughput (resources per second of wall time, ``--concurrency``
transactions in flight) and then latency of the agent's query mix: per sampled patient the
requests an evidence session sends (``tools/session.py``, ``tools/evidence``, ``tools/scope.py``):
the Patient read, the record index (12 searches with ``_count`` and ``_elements``), concept
searches (``code=``, ``_sort=-date``), a date-window search (``date=ge``), an observation
series (``_sort=date``), the encounter timeline, an in-scope read by ``_id``, the image sources
and a ``$everything`` page. Requests go one at a time (sequential, keep-alive), each query to
ours and then the same URL to sekmet, so background load hits both alike.

sekmet loads far slower: when its step-1 rate predicts more than ``--sekmet-budget-s`` seconds for
the scale step, it receives only ``--sekmet-max-patients`` patients, and the scale step's
queries then sample patients both servers hold (said in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fhir_fixtures.sekmet_harness import ServerProcess

__all__ = ["QueryMix", "Replicator", "register"]

_SHARED_TYPES = frozenset({"Organization", "Practitioner", "Location", "PractitionerRole"})
_SHARED_PREFIXES = ("hospitalInformation", "practitionerInformation")
# A logical id between the characters that delimit it in serialized JSON: "id":"X",
# "reference":"Type/X", "fullUrl":"urn:uuid:X", "url":"Type/X".
_ID_TOKEN = re.compile(r'(?<=["/:])([A-Za-z0-9\-.]{1,64})(?=")')
_HEADERS = {
    "Accept": "application/fhir+json",
    "Prefer": "handling=strict",  # as tools.fhir.FHIRClient sends with searches
}
_TARGET_LOAD = 5000.0
_TARGET_P95_MS = 20.0
_TARGET_SPEEDUP = 5.0
# Kinds that are searches (for the p95 search target); reads and $everything are not.
_SEARCH_KINDS = (
    "index",
    "search code",
    "search date",
    "series",
    "timeline",
    "read by _id",
    "image sources",
)


def _default_bundles() -> Path:
    """``shared/data/synthea-r4`` beside the checkout (as tests/conftest.py finds it)."""
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "data" / "synthea-r4"


# --- data ------------------------------------------------------------------------------


@dataclass
class _Source:
    """One patient bundle, prepared as a transaction of PUTs, and what the queries need."""

    name: str
    patient_id: str
    body: bytes
    resources: int
    template: list[str]
    slots: list[int]
    ids: frozenset[str]
    replica_resources: int
    facts: dict[str, Any]


def _read_json(path: Path) -> Any:
    import orjson

    data = path.read_bytes()
    return orjson.loads(gzip.decompress(data) if path.name.endswith(".gz") else data)


def _facts(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Codes, ids and dates of one record that the concept and read queries ask for."""

    def top_code(rt: str, element: str) -> str | None:
        counts: Counter[str] = Counter()
        for res in resources:
            if res["resourceType"] != rt:
                continue
            for coding in (res.get(element) or {}).get("coding") or []:
                if coding.get("system") and coding.get("code"):
                    counts[f"{coding['system']}|{coding['code']}"] += 1
                    break
        return counts.most_common(1)[0][0] if counts else None

    dates = sorted(
        str((res.get("period") or {}).get("start", ""))[:10]
        for res in resources
        if res["resourceType"] == "Encounter"
    )
    reports = sorted(res["id"] for res in resources if res["resourceType"] == "DiagnosticReport")
    return {
        "observation_code": top_code("Observation", "code"),
        "condition_code": top_code("Condition", "code"),
        "date_from": dates[len(dates) // 2] if dates else None,
        "report_id": reports[0] if reports else None,
    }


def _source(path: Path) -> _Source:
    import orjson

    from fhir_fixtures.synthea_bundle import bundle_of_puts, prepare_transaction

    bundle = prepare_transaction(_read_json(path)).bundle
    resources = [entry["resource"] for entry in bundle["entry"]]
    patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise ValueError(f"{path.name}: expected one Patient, found {len(patients)}")
    own = [r for r in resources if r["resourceType"] not in _SHARED_TYPES]
    ids = {r["id"] for r in own}
    # Split once around every id token; a replica is then one join with fresh ids in the slots.
    parts = _ID_TOKEN.split(orjson.dumps(bundle_of_puts(own)).decode())
    template: list[str] = []
    slots: list[int] = []
    literal: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 1 and part in ids:
            template.append("".join(literal))
            literal = []
            slots.append(len(template))
            template.append(part)
        else:
            literal.append(part)
    template.append("".join(literal))
    return _Source(
        name=path.name,
        patient_id=patients[0],
        body=orjson.dumps(bundle),
        resources=len(resources),
        template=template,
        slots=slots,
        ids=frozenset(ids),
        replica_resources=len(own),
        facts=_facts(resources),
    )


def replica_id(copy: int, original: str) -> str:
    """The id ``original`` has in replica ``copy`` (0 is the original itself).

    A name-based UUID (BLAKE2b of copy and original; uuid5's SHA-1 is three times slower and
    the replicas need hundreds of thousands).
    """
    if copy == 0:
        return original
    digest = hashlib.blake2b(f"{copy}/{original}".encode(), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{digest[16:20]}-{digest[20:]}"


class Replicator:
    """The shared bundles, and replicas of their patients under fresh deterministic ids."""

    def __init__(self, folder: Path) -> None:
        """Read and prepare every bundle in ``folder`` (shared organisation bundles first)."""
        files = sorted(folder.glob("*.json.gz")) + sorted(folder.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{folder} holds no .json or .json.gz bundles")
        shared = [p for p in files if p.name.startswith(_SHARED_PREFIXES)]
        patients = [p for p in files if not p.name.startswith(_SHARED_PREFIXES)]
        self.shared: list[tuple[bytes, int]] = []
        import orjson

        from fhir_fixtures.synthea_bundle import prepare_transaction

        for path in shared:
            bundle = prepare_transaction(_read_json(path)).bundle
            self.shared.append((orjson.dumps(bundle), len(bundle["entry"])))
        self.sources = [_source(p) for p in patients]

    def patient(self, number: int) -> tuple[_Source, int]:
        """Source bundle and copy number of patient ``number`` (0-based; originals first)."""
        return self.sources[number % len(self.sources)], number // len(self.sources)

    def patient_id(self, number: int) -> str:
        """The Patient id of patient ``number``."""
        source, copy = self.patient(number)
        return replica_id(copy, source.patient_id)

    def resources(self, start: int, stop: int) -> int:
        """Resources the transactions of :meth:`bundles` carry."""
        total = sum(n for _, n in self.shared) if start == 0 else 0
        for number in range(start, stop):
            source, copy = self.patient(number)
            total += source.resources if copy == 0 else source.replica_resources
        return total

    def bundles(self, start: int, stop: int) -> Iterator[tuple[bytes, int]]:
        """Transactions (body, resource count) loading patients ``start`` to ``stop - 1``.

        Patients below the number of sources are the shared bundles as they are, preceded
        (when ``start`` is 0) by the organisation and practitioner bundles.
        """
        if start == 0:
            yield from self.shared
        for number in range(start, stop):
            source, copy = self.patient(number)
            if copy == 0:
                yield source.body, source.resources
                continue
            fresh = {old: replica_id(copy, old) for old in source.ids}
            parts = list(source.template)
            for slot in source.slots:
                parts[slot] = fresh[parts[slot]]
            yield "".join(parts).encode(), source.replica_resources


# --- query mix -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Query:
    kind: str
    patient: str
    source: str
    path: str
    params: tuple[tuple[str, str], ...] = ()


class QueryMix:
    """The requests one evidence session sends for one patient, in the order it sends them."""

    def __init__(self, as_of: date) -> None:
        """Queries capped at ``as_of`` (``date=le``), as the tools cap them."""
        self.as_of = as_of.isoformat()

    def session(self, replicator: Replicator, number: int) -> list[_Query]:
        """The session of patient ``number``."""
        from tools.records import CLINICAL_TYPES, DATE_PARAM
        from tools.session import _INDEX_ELEMENTS

        source, copy = replicator.patient(number)
        pid = replica_id(copy, source.patient_id)
        facts = source.facts
        le = f"le{self.as_of}"

        def query(kind: str, path: str, *params: tuple[str, str]) -> _Query:
            return _Query(kind, pid, source.patient_id, path, params)

        out = [query("read Patient", f"Patient/{pid}")]
        for rt in CLINICAL_TYPES:
            out.append(
                query(
                    "index",
                    rt,
                    ("patient", pid),
                    ("_count", "1000"),
                    ("_elements", _INDEX_ELEMENTS[rt]),
                )
            )
        if facts["condition_code"]:
            sort = f"-{DATE_PARAM['Condition']}"
            code = facts["condition_code"]
            out.append(
                query(
                    "search code",
                    "Condition",
                    ("patient", pid),
                    ("code", code),
                    ("_sort", sort),
                    ("_count", "50"),
                )
            )
        if facts["observation_code"]:
            code = facts["observation_code"]
            out.append(
                query(
                    "search code",
                    "Observation",
                    ("patient", pid),
                    ("code", code),
                    ("date", le),
                    ("_sort", "-date"),
                    ("_count", "50"),
                )
            )
            out.append(
                query(
                    "series",
                    "Observation",
                    ("patient", pid),
                    ("code", code),
                    ("date", le),
                    ("_sort", "date"),
                    ("_count", "500"),
                )
            )
        if facts["date_from"]:
            out.append(
                query(
                    "search date",
                    "Observation",
                    ("patient", pid),
                    ("date", f"ge{facts['date_from']}"),
                    ("date", le),
                    ("_sort", "-date"),
                    ("_count", "50"),
                )
            )
        out.append(
            query(
                "timeline",
                "Encounter",
                ("patient", pid),
                ("date", le),
                ("_sort", "-date"),
                ("_count", "20"),
            )
        )
        if facts["report_id"]:
            rid = replica_id(copy, facts["report_id"])
            out.append(query("read by _id", "DiagnosticReport", ("patient", pid), ("_id", rid)))
        for rt in ("ImagingStudy", "Media", "DiagnosticReport", "DocumentReference"):
            out.append(query("image sources", rt, ("patient", pid), ("_count", "200")))
        out.append(query("$everything page", f"Patient/{pid}/$everything", ("_count", "100")))
        return out

    def queries(
        self, replicator: Replicator, candidates: int, count: int, seed: int
    ) -> list[_Query]:
        """``count`` queries: whole sessions of patients drawn from the first ``candidates``."""
        rng = random.Random(seed)
        numbers = list(range(candidates - 1))
        rng.shuffle(numbers)
        # The newest patient first: at the scale step it is a replica, always among those
        # whose results are recorded for checking.
        numbers.insert(0, candidates - 1)
        out: list[_Query] = []
        while len(out) < count:
            for number in numbers:
                out.extend(self.session(replicator, number))
                if len(out) >= count:
                    break
        return out[:count]


# --- measuring ---------------------------------------------------------------------------


@dataclass
class _Timed:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    returned: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, query: _Query, ms: float, status: int, body: bytes) -> None:
        import orjson

        self.latencies_ms.setdefault(query.kind, []).append(ms)
        if status != 200:
            self.errors[f"{query.kind} {status}"] += 1
            return
        document = orjson.loads(body)
        if document.get("resourceType") == "Bundle":
            found = sum(
                1
                for entry in document.get("entry") or []
                if (entry.get("search") or {}).get("mode", "match") == "match"
            )
        else:
            found = 1
        self.returned[query.kind] += found
        if query.kind == "index":
            record = self.counts.setdefault(query.patient, {"source_patient": query.source})
            record[query.path] = found


async def _load(base_url: str, bundles: Iterator[tuple[bytes, int]], concurrency: int) -> float:
    """Send every transaction (``concurrency`` in flight); returns wall seconds."""
    import httpx

    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    queue: asyncio.Queue[tuple[bytes, int] | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def producer() -> None:
        for item in bundles:
            await queue.put(item)
        for _ in range(concurrency):
            await queue.put(None)

    async def sender(client: httpx.AsyncClient) -> None:
        while (item := await queue.get()) is not None:
            response = await client.post("/", content=item[0], headers=headers)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{base_url} rejected a transaction ({response.status_code}): "
                    f"{response.text[:300]}"
                )

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        await asyncio.gather(producer(), *(sender(client) for _ in range(concurrency)))
    return time.perf_counter() - started


def _measure(
    urls: dict[str, str], queries: Sequence[_Query], warmup: Sequence[_Query]
) -> dict[str, _Timed]:
    """Each query to every server in turn, one at a time; warm-up queries are not timed."""
    import httpx

    clients = {
        name: httpx.Client(base_url=url, timeout=120, headers=_HEADERS)
        for name, url in urls.items()
    }
    timed = {name: _Timed() for name in urls}
    try:
        for query in warmup:
            for client in clients.values():
                client.get(f"/{query.path}", params=list(query.params)).read()
        for query in queries:
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.get(f"/{query.path}", params=list(query.params))
                body = response.read()
                ms = (time.perf_counter() - started) * 1000
                timed[name].add(query, ms, response.status_code, body)
    finally:
        for client in clients.values():
            client.close()
    return timed


def _pct(values: Sequence[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(_pct(values, 50), 2),
        "p95_ms": round(_pct(values, 95), 2),
        "mean_ms": round(statistics.fmean(values), 2) if values else float("nan"),
        "total_ms": round(sum(values), 1),
    }


def _latency(timed: _Timed) -> dict[str, Any]:
    every = [ms for values in timed.latencies_ms.values() for ms in values]
    searches = [ms for kind in _SEARCH_KINDS for ms in timed.latencies_ms.get(kind, [])]
    by_kind = {
        kind: {**_summary(values), "resources_returned": timed.returned[kind]}
        for kind, values in timed.latencies_ms.items()
    }
    return {"overall": _summary(every), "searches": _summary(searches), "by_kind": by_kind}


def _ratio(slow: float, fast: float) -> float | None:
    return round(slow / fast, 1) if fast > 0 and slow == slow else None


def _speedup(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """How many times faster ours answered the identical queries (sekmet time / ours)."""

    def ratios(a: dict[str, float], b: dict[str, float]) -> dict[str, float | None]:
        return {
            "p50": _ratio(b["p50_ms"], a["p50_ms"]),
            "p95": _ratio(b["p95_ms"], a["p95_ms"]),
            "total": _ratio(b["total_ms"], a["total_ms"]),
        }

    return {
        "overall": ratios(ours["overall"], theirs["overall"]),
        "searches": ratios(ours["searches"], theirs["searches"]),
        "by_kind": {
            kind: ratios(summary, theirs["by_kind"][kind])
            for kind, summary in ours["by_kind"].items()
            if kind in theirs["by_kind"]
        },
    }


# --- the run -------------------------------------------------------------------------------


@dataclass
class _Servers:
    urls: dict[str, str]
    held: dict[str, int]  # patients each server holds
    processes: dict[str, ServerProcess]

    def failed(self, exc: Exception) -> RuntimeError:
        """An error naming the servers that died, with the end of their logs."""
        dead = [p for p in self.processes.values() if not p.running]
        tails = "; ".join(f"{p.name} exited: {p.log_tail(800)}" for p in dead)
        return RuntimeError(f"a FHIR server stopped answering ({exc}); {tails or 'both alive'}")


def _step(
    name: str,
    replicator: Replicator,
    servers: _Servers,
    targets: dict[str, int],
    mix: QueryMix,
    args: argparse.Namespace,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Load each server up to ``targets[server]`` patients, then time the query mix."""
    import httpx

    loads: dict[str, Any] = {}
    for server, target in targets.items():
        start = servers.held[server]
        if target <= start:
            continue
        resources = replicator.resources(start, target)
        say(
            f"{name}: loading patients {start}..{target - 1} "
            f"({resources:,} resources) into {server}"
        )
        try:
            seconds = asyncio.run(
                _load(servers.urls[server], replicator.bundles(start, target), args.concurrency)
            )
        except httpx.TransportError as exc:
            raise servers.failed(exc) from exc
        servers.held[server] = target
        loads[server] = {
            "patients_added": target - start,
            "resources": resources,
            "seconds": round(seconds, 2),
            "resources_per_s": round(resources / seconds, 1),
        }
    common = min(servers.held[s] for s in servers.urls)
    queries = mix.queries(replicator, common, args.queries, seed=len(name))
    warmup = mix.session(replicator, 0)
    say(f"{name}: {len(queries)} queries per server over patients held by all ({common})")
    try:
        timed = _measure(servers.urls, queries, warmup)
    except httpx.TransportError as exc:
        raise servers.failed(exc) from exc
    result: dict[str, Any] = {
        "step": name,
        "patients_held": dict(servers.held),
        "query_patients_from": common,
        "load": loads,
        "latency": {server: _latency(t) for server, t in timed.items()},
        "errors": {server: dict(t.errors) for server, t in timed.items()},
        # What the record-index searches returned per patient queried (ours), with the
        # patient each was replicated from: checkable against the raw bundles.
        "index_counts": timed["ours"].counts,
    }
    if "sekmet" in timed:
        result["speedup"] = _speedup(result["latency"]["ours"], result["latency"]["sekmet"])
        result["returned_differs"] = {
            kind: {"ours": timed["ours"].returned[kind], "sekmet": timed["sekmet"].returned[kind]}
            for kind in timed["ours"].latencies_ms
            if timed["ours"].returned[kind] != timed["sekmet"].returned[kind]
        }
    return result


def _verdict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    scale = steps[-1]
    rates = [step["load"]["ours"]["resources_per_s"] for step in steps if "ours" in step["load"]]
    out: dict[str, Any] = {
        "load_resources_per_s_min": min(rates) if rates else None,
        "load_target": _TARGET_LOAD,
        "load_met": bool(rates) and min(rates) >= _TARGET_LOAD,
        "p95_search_ms_at_scale": scale["latency"]["ours"]["searches"]["p95_ms"],
        "p95_search_target_ms": _TARGET_P95_MS,
        "p95_search_met": scale["latency"]["ours"]["searches"]["p95_ms"] <= _TARGET_P95_MS,
        "speedup_target": _TARGET_SPEEDUP,
    }
    if "speedup" in scale:
        total = scale["speedup"]["overall"]["total"]
        out["speedup_total_at_scale"] = total
        out["speedup_met"] = total is not None and total >= _TARGET_SPEEDUP
    return out


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import UserError, console, err_console, print_json
    from fhir_fixtures.sekmet_harness import ServerProcessError, start_embedded, start_sekmet

    bundles_dir: Path = args.bundles or _default_bundles()
    if not bundles_dir.is_dir():
        raise UserError(f"--bundles: {bundles_dir} is not a folder")
    if args.queries < 1 or args.concurrency < 1:
        raise UserError("--queries and --concurrency must be positive", exit_code=2)
    if args.quick:
        args.patients = min(args.patients, 60)
        args.queries = min(args.queries, 120)
        args.sekmet_max_patients = min(args.sekmet_max_patients, 60)
    say = err_console().print
    replicator = Replicator(bundles_dir)
    base = len(replicator.sources)
    if args.patients < base:
        raise UserError(f"--patients must be at least {base} (the shared patients)", exit_code=2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    servers = _Servers(urls={}, held={}, processes={})
    mix = QueryMix(date.today())
    notes: list[str] = []
    try:
        ours = start_embedded(work / "ours" / "fhir.sqlite", timeout=60)
        servers.processes["ours"] = ours
        servers.urls["ours"], servers.held["ours"] = ours.base_url, 0
        if not args.skip_sekmet:
            try:
                sekmet = start_sekmet(work / "sekmet", timeout=60)
            except ServerProcessError as exc:
                raise UserError(f"sekmet-fhir: {exc} (or pass --skip-sekmet)") from None
            servers.processes["sekmet"] = sekmet
            servers.urls["sekmet"], servers.held["sekmet"] = sekmet.base_url, 0
        steps = [
            _step("shared", replicator, servers, dict.fromkeys(servers.urls, base), mix, args, say)
        ]
        targets = {"ours": args.patients}
        if "sekmet" in servers.urls:
            rate = steps[0]["load"]["sekmet"]["resources_per_s"]
            per_patient = statistics.fmean(s.replica_resources for s in replicator.sources)
            predicted = (args.patients - base) * per_patient / rate
            targets["sekmet"] = args.patients
            if predicted > args.sekmet_budget_s:
                targets["sekmet"] = max(base, min(args.patients, args.sekmet_max_patients))
                notes.append(
                    f"sekmet loaded {rate:,.0f} resources/s in the shared step, so "
                    f"{args.patients} patients would take about {predicted / 60:.0f} min "
                    f"(budget {args.sekmet_budget_s:.0f} s): it holds {targets['sekmet']} patients "
                    f"at scale, ours {args.patients}; the scale step's queries sample the "
                    f"{targets['sekmet']} patients both hold."
                )
        steps.append(_step("scale", replicator, servers, targets, mix, args, say))
        for step in steps:
            for kind, counts in step.get("returned_differs", {}).items():
                notes.append(
                    f"{step['step']}: '{kind}' returned {counts['ours']} resources from ours and "
                    f"{counts['sekmet']} from sekmet"
                    + (
                        " (sekmet ignores _count on $everything and sends the whole record)"
                        if kind == "$everything page"
                        else ""
                    )
                )
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    finally:
        for process in servers.processes.values():
            process.stop()
        shutil.rmtree(work, ignore_errors=True)
    document = {
        "command": _command(args),
        "settings": {
            "bundles": str(bundles_dir),
            "patients": args.patients,
            "queries_per_server_per_step": args.queries,
            "concurrency": args.concurrency,
            "sekmet": not args.skip_sekmet,
            "sekmet_max_patients": args.sekmet_max_patients,
            "as_of": mix.as_of,
        },
        "machine": {
            "cores": os.cpu_count() or 0,
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "steps": steps,
        "verdict": _verdict(steps),
        "notes": notes,
    }
    (out / "fhir.json").write_text(json.dumps(document, indent=2) + "\n")
    markdown = _markdown(document)
    (out / "fhir.md").write_text(markdown)
    if args.json:
        print_json(document)
    else:
        _print_table(document)
        for note in notes:
            console().print(f"[yellow]{note}[/]")
    return 0


def _command(args: argparse.Namespace) -> str:
    words = ["ehr-agent", "bench", "fhir", "--out", str(args.out)]
    if args.bundles:
        words += ["--bundles", str(args.bundles)]
    words += ["--patients", str(args.patients), "--queries", str(args.queries)]
    words += ["--concurrency", str(args.concurrency)]
    words += ["--sekmet-max-patients", str(args.sekmet_max_patients)]
    words += ["--sekmet-budget-s", f"{args.sekmet_budget_s:g}"]
    words += ["--quick"] if args.quick else []
    words += ["--skip-sekmet"] if args.skip_sekmet else []
    return " ".join(words)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.1f}{unit}"


def _rows(document: dict[str, Any]) -> list[list[str]]:
    """One row per step, server and query kind (plus overall and searches)."""
    rows: list[list[str]] = []
    for step in document["steps"]:
        for server, latency in step["latency"].items():
            load = step["load"].get(server)
            speedup = step.get("speedup") if server == "sekmet" else None
            kinds = [("overall", latency["overall"]), ("searches", latency["searches"])]
            kinds += sorted(latency["by_kind"].items())
            for kind, summary in kinds:
                if speedup is None:
                    ratio = None
                elif kind in ("overall", "searches"):
                    ratio = speedup[kind]["total"]
                else:
                    ratio = speedup["by_kind"].get(kind, {}).get("total")
                first = kind == "overall"
                rows.append(
                    [
                        step["step"] if first else "",
                        server if first else "",
                        str(step["patients_held"][server]) if first else "",
                        _fmt(load["resources_per_s"]) if first and load else "",
                        kind,
                        str(summary["n"]),
                        _fmt(summary["p50_ms"]),
                        _fmt(summary["p95_ms"]),
                        str(summary.get("resources_returned", "")),
                        _fmt(ratio, "x") if ratio is not None else "",
                    ]
                )
    return rows


_COLUMNS = [
    "step",
    "server",
    "patients",
    "load res/s",
    "query kind",
    "n",
    "p50 ms",
    "p95 ms",
    "returned",
    "ours faster",
]


def _markdown(document: dict[str, Any]) -> str:
    verdict = document["verdict"]
    lines = [
        "# FHIR server benchmark: embedded server vs sekmet-fhir",
        "",
        f"`{document['command']}` on {document['machine']['cores']} cores "
        f"(1-min load average at the end {document['machine']['load_avg_1m_at_end']}).",
        "Latency: one request at a time, each query to every server in turn; "
        "'ours faster' is sekmet's summed time over ours on the identical queries.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(document)]
    lines += [
        "",
        "## Targets",
        "",
        f"- load >= {verdict['load_target']:,.0f} resources/s: slowest step "
        f"{_fmt(verdict['load_resources_per_s_min'])} -> "
        f"{'met' if verdict['load_met'] else 'NOT met'}",
        f"- p95 search <= {verdict['p95_search_target_ms']:g} ms at scale: "
        f"{_fmt(verdict['p95_search_ms_at_scale'])} ms -> "
        f"{'met' if verdict['p95_search_met'] else 'NOT met'}",
    ]
    if "speedup_met" in verdict:
        lines.append(
            f"- >= {verdict['speedup_target']:g}x faster than sekmet at scale: "
            f"{_fmt(verdict['speedup_total_at_scale'], 'x')} -> "
            f"{'met' if verdict['speedup_met'] else 'NOT met'}"
        )
    else:
        lines.append("- speed-up over sekmet: not measured (--skip-sekmet)")
    errors = {
        f"{step['step']}/{server}": found
        for step in document["steps"]
        for server, found in step["errors"].items()
        if found
    }
    if errors:
        lines += ["", f"Non-200 answers (query kind and status): {errors}"]
    if document["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in document["notes"]]
    return "\n".join(lines) + "\n"


def _print_table(document: dict[str, Any]) -> None:
    from rich.table import Table

    from agent.cli_common import console

    table = Table(title="FHIR servers: load and query-mix latency")
    for name in _COLUMNS:
        table.add_column(
            name, justify="left" if name in ("step", "server", "query kind") else "right"
        )
    for row in _rows(document):
        table.add_row(*row)
    console().print(table)
    verdict = document["verdict"]
    console().print(
        f"load min {_fmt(verdict['load_resources_per_s_min'])} res/s "
        f"(target {verdict['load_target']:,.0f}); p95 search at scale "
        f"{_fmt(verdict['p95_search_ms_at_scale'])} ms "
        f"(target {verdict['p95_search_target_ms']:g}); "
        f"speed-up at scale {_fmt(verdict.get('speedup_total_at_scale'), 'x')} "
        f"(target {verdict['speedup_target']:g}x)"
    )


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench fhir``."""
    parser = bench_sub.add_parser(
        "fhir",
        help="FHIR server load throughput and query latency, ours vs sekmet-fhir",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR")
    parser.add_argument(
        "--bundles",
        type=Path,
        metavar="DIR",
        help="Synthea bundles (default: ../shared/data/synthea-r4 beside the checkout)",
    )
    parser.add_argument(
        "--patients", type=int, default=1000, metavar="N", help="patients at the scale step (1000)"
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=1000,
        metavar="N",
        help="timed queries per server per step (1000)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="transactions in flight while loading (4)",
    )
    parser.add_argument("--skip-sekmet", action="store_true", help="measure ours only")
    parser.add_argument(
        "--sekmet-max-patients",
        type=int,
        default=200,
        metavar="N",
        help="patients sekmet gets at the scale step when loading all would exceed "
        "the budget (200)",
    )
    parser.add_argument(
        "--sekmet-budget-s",
        type=float,
        default=180.0,
        metavar="S",
        help="seconds sekmet's scale-step load may take before it is capped (180)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: at most 60 patients and 120 queries"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=_run)

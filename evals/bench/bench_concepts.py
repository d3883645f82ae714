"""``ehr-agent bench concepts``: concept-resolution accuracy on the labelled phrase lists.

The lists are ``evals/concepts/phrases.jsonl`` (the resolver was tuned on it) and
``phrases_heldout.jsonl`` (written afterwards; report it apart and never tune on it). See
``evals/concepts/README.md`` for how they were labelled. Each item names a phrase, a
patient, the resource types to look in and the expected ``system|code`` set in that
patient's record (``[]`` for a negative).

The patients are loaded into a fresh embedded FHIR server, and each patient's record index
is built exactly as the tools build it (:meth:`tools.session.EvidenceSession.index`, over
HTTP); each phrase is then resolved by :func:`tools.concepts.resolve` against that index,
restricted to the item's resource types, as the ``search`` tool does. The scored set is
what the search tool queries: resolved codes that occur only as components (systolic
inside a blood pressure panel) stand for their panels, since the labels never target
component codes. An item is a hit when that set equals the expected set; set precision and
recall per item are averaged as well (an empty set counts as precision 1, an empty
expectation as recall 1). The raw resolver output (components kept) is scored too
(``raw_hits``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.bench.bench_tools import (
    add_common_arguments,
    bundles_from_args,
    figures_table,
    print_figures,
    serve_bundles,
    write_results,
)

if TYPE_CHECKING:
    from rich.table import Table

    from tools.record_index import CodeEntry, RecordIndex

__all__ = ["DEFAULT_LISTS", "ItemResult", "register", "score_item"]

CONCEPTS_DIR = Path(__file__).resolve().parents[1] / "concepts"
DEFAULT_LISTS = (CONCEPTS_DIR / "phrases.jsonl", CONCEPTS_DIR / "phrases_heldout.jsonl")
_SYSTEM_NAMES = {
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/cvx": "CVX",
}
#: The code system of each type's concept element (evals/concepts/README.md).
_TYPE_SYSTEM = {
    "Observation": "LOINC",
    "DiagnosticReport": "LOINC",
    "Condition": "SNOMED",
    "Procedure": "SNOMED",
    "AllergyIntolerance": "SNOMED",
    "Encounter": "SNOMED",
    "CarePlan": "SNOMED",
    "MedicationRequest": "RxNorm",
    "Immunization": "CVX",
}


@dataclass
class ItemResult:
    """One phrase resolved in its patient's record."""

    list_name: str
    id: str
    phrase: str
    patient_id: str
    kind: str
    resource_types: list[str]
    expected: list[str]
    got: list[str]
    resolved: list[str]
    method: str
    hit: bool
    raw_hit: bool
    precision: float
    recall: float


def score_item(expected: list[str], got: list[str]) -> tuple[bool, float, float]:
    """Exact set match, precision and recall of one item."""
    want, have = set(expected), set(got)
    both = len(want & have)
    precision = both / len(have) if have else 1.0
    recall = both / len(want) if want else 1.0
    return want == have, precision, recall


def _read_list(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _indexes(base_url: str, patients: list[str]) -> tuple[dict[str, RecordIndex], float]:
    from tools.fhir import FHIRClient
    from tools.session import EvidenceSession

    out = {}
    started = time.perf_counter()
    async with FHIRClient(base_url) as client:
        for patient in patients:
            out[patient] = await EvidenceSession(client, patient).index()
    return out, time.perf_counter() - started


def _resolve_all(
    lists: list[Path], indexes: dict[str, RecordIndex]
) -> tuple[list[ItemResult], dict[str, int]]:
    from tools.concepts import resolve

    results: list[ItemResult] = []
    skipped: dict[str, int] = {}
    mains = {
        patient: {c.token for rec in index.records for c in rec.codes}
        for patient, index in indexes.items()
    }
    for path in lists:
        items = _read_list(path)
        skipped[path.name] = sum(item["patient_id"] not in indexes for item in items)
        for item in items:
            index = indexes.get(item["patient_id"])
            if index is None:
                continue
            resolution = resolve(item["phrase"], index.entries, item["resource_types"])
            got = _queried(resolution.entries, mains[item["patient_id"]])
            hit, precision, recall = score_item(item["expected"], got)
            results.append(
                ItemResult(
                    list_name=path.name,
                    id=item["id"],
                    phrase=item["phrase"],
                    patient_id=item["patient_id"],
                    kind=item["kind"],
                    resource_types=list(item["resource_types"]),
                    expected=list(item["expected"]),
                    got=got,
                    resolved=resolution.tokens,
                    method=resolution.method,
                    hit=hit,
                    raw_hit=set(resolution.tokens) == set(item["expected"]),
                    precision=precision,
                    recall=recall,
                )
            )
    return results, skipped


def _queried(entries: Sequence[CodeEntry], main_tokens: set[str]) -> list[str]:
    """``system|code`` the search tool queries: component-only codes through their panels."""
    tokens: list[str] = []
    for entry in entries:
        if entry.component_of and entry.token not in main_tokens:
            tokens.extend(entry.component_of)
        else:
            tokens.append(entry.token)
    return list(dict.fromkeys(tokens))


def _figures(results: list[ItemResult]) -> dict[str, Any]:
    hits = sum(r.hit for r in results)
    negatives = [r for r in results if not r.expected]
    return {
        "items": len(results),
        "hits": hits,
        "accuracy": round(hits / len(results), 4) if results else 0.0,
        "raw_hits": sum(r.raw_hit for r in results),
        "precision_mean": round(statistics.fmean(r.precision for r in results), 4)
        if results
        else 0.0,
        "recall_mean": round(statistics.fmean(r.recall for r in results), 4) if results else 0.0,
        "negatives": len(negatives),
        "negatives_right": sum(r.hit for r in negatives),
    }


def _grouped(results: list[ItemResult], key: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ItemResult]] = defaultdict(list)
    for result in results:
        groups[key(result)].append(result)
    return {name: _figures(groups[name]) for name in sorted(groups)}


def _types_key(result: ItemResult) -> str:
    systems = sorted({_TYPE_SYSTEM.get(t, "?") for t in result.resource_types})
    return f"{'+'.join(result.resource_types)} ({'/'.join(systems)})"


def _summarise(
    results: list[ItemResult],
    skipped: dict[str, int],
    *,
    bundles: Path,
    server: str,
    patients: int,
    index_seconds: float,
    seconds: float,
) -> dict[str, Any]:
    lists: dict[str, Any] = {}
    for name in dict.fromkeys(r.list_name for r in results) or skipped:
        rows = [r for r in results if r.list_name == name]
        lists[name] = {
            **_figures(rows),
            "skipped_patient_not_loaded": skipped.get(name, 0),
            "by_resource_type": _grouped(rows, _types_key),
            "by_kind": _grouped(rows, lambda r: r.kind),
            "by_method": _grouped(rows, lambda r: r.method),
        }
    return {
        "bundles": str(bundles),
        "server": server,
        "patients": patients,
        "index_build_seconds": round(index_seconds, 2),
        "seconds": round(seconds, 1),
        "lists": lists,
        "misses": [asdict(r) for r in results if not r.hit],
        "items": [
            {
                "list_name": r.list_name,
                "id": r.id,
                "got": r.got,
                "resolved": r.resolved,
                "hit": r.hit,
            }
            for r in results
        ],
    }


def _tables(doc: dict[str, Any]) -> list[Table]:
    columns = ("n", "hits", "acc", "prec", "rec")
    tables = []
    for name, figures in doc["lists"].items():
        title = f"{name}: {figures['hits']}/{figures['items']} = {figures['accuracy']:.1%}"
        cells = [
            (
                group,
                str(s["items"]),
                str(s["hits"]),
                f"{s['accuracy']:.1%}",
                f"{s['precision_mean']:.2f}",
                f"{s['recall_mean']:.2f}",
            )
            for group, s in figures["by_resource_type"].items()
        ]
        tables.append(figures_table(title, "resource types (system)", columns, cells))
    return tables


def _markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Concept resolution benchmark",
        "",
        f"- {doc['patients']} patients from `{doc['bundles']}`; record indexes built through "
        f"`EvidenceSession.index()` over HTTP ({doc['index_build_seconds']} s); phrases resolved "
        "with `tools.concepts.resolve` in the item's resource types, as the search tool does",
        "- hit = the codes the search tool would query (component-only codes through their "
        "panels) equal the expected set; precision and recall are per-item set figures, "
        "averaged; raw hits = the resolver's own set (components kept) equals it",
        "",
        "| list | items | hits | accuracy | precision | recall | negatives right | raw hits |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, s in doc["lists"].items():
        lines.append(
            f"| {name} | {s['items']} | {s['hits']} | {s['accuracy']:.1%} | "
            f"{s['precision_mean']:.3f} | {s['recall_mean']:.3f} | "
            f"{s['negatives_right']}/{s['negatives']} | {s['raw_hits']} |"
        )
    for name, s in doc["lists"].items():
        if s["skipped_patient_not_loaded"]:
            lines.append(
                f"\n{name}: {s['skipped_patient_not_loaded']} items skipped "
                "(their patient was not loaded)"
            )
        for title, key in (
            ("resource type (system)", "by_resource_type"),
            ("kind", "by_kind"),
            ("resolution step", "by_method"),
        ):
            lines += [
                "",
                f"## {name} by {title}",
                "",
                "| group | items | hits | accuracy | precision | recall |",
                "|---|--:|--:|--:|--:|--:|",
            ]
            for group, g in s[key].items():
                lines.append(
                    f"| {group} | {g['items']} | {g['hits']} | {g['accuracy']:.1%} | "
                    f"{g['precision_mean']:.2f} | {g['recall_mean']:.2f} |"
                )
    lines += [
        "",
        "## Misses",
        "",
        "| list | id | phrase | types | step | missing | extra |",
        "|---|---|---|---|---|---|---|",
    ]
    for miss in doc["misses"]:
        missing = sorted(set(miss["expected"]) - set(miss["got"]))
        extra = sorted(set(miss["got"]) - set(miss["expected"]))
        lines.append(
            f"| {miss['list_name']} | {miss['id']} | {miss['phrase']} | "
            f"{', '.join(miss['resource_types'])} | {miss['method']} | "
            f"{_codes(missing)} | {_codes(extra)} |"
        )
    return "\n".join(lines) + "\n"


def _codes(tokens: list[str]) -> str:
    out = []
    for token in tokens:
        system, _, code = token.partition("|")
        out.append(f"{_SYSTEM_NAMES.get(system, system)} {code}")
    return ", ".join(out) or "-"


def _run(args: argparse.Namespace) -> int:
    from agent.cli_common import UserError, err_console

    lists = [Path(p) for p in args.phrases] if args.phrases else list(DEFAULT_LISTS)
    for path in lists:
        if not path.is_file():
            raise UserError(f"{path}: no such phrase list", exit_code=2)
    bundles, files = bundles_from_args(args)
    err_console().print(f"loading {len(files)} bundle files from {bundles} ...")
    started = time.perf_counter()
    with serve_bundles(files, server=args.server) as served:
        indexes, index_seconds = asyncio.run(_indexes(served.base_url, served.patient_ids))
    results, skipped = _resolve_all(lists, indexes)
    doc = _summarise(
        results,
        skipped,
        bundles=bundles,
        server=served.server,
        patients=len(served.patient_ids),
        index_seconds=index_seconds,
        seconds=time.perf_counter() - started,
    )
    markdown = _markdown(doc)
    write_results(args.out, "concepts", doc, markdown)
    footer = f"{len(doc['misses'])} misses, listed in {args.out / 'concepts.md'}"
    print_figures(doc, _tables, as_json=args.json, footer=footer)
    return 0


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench concepts``."""
    parser = bench_sub.add_parser(
        "concepts",
        help="concept-resolution accuracy on the labelled phrase lists",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser, "concepts")
    parser.add_argument(
        "--phrases",
        nargs="+",
        metavar="FILE",
        help="phrase lists (default: evals/concepts/phrases.jsonl and phrases_heldout.jsonl)",
    )
    parser.set_defaults(handler=_run)

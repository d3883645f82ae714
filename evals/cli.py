"""``ehr-agent eval``, ``ehr-agent simulate`` and ``ehr-agent bench``.

``eval`` is a command group whose steps each add their subparser to it in :func:`register`
(``add_eval_build`` today; ``run`` and ``report`` go beside it, and ``simulate`` and ``bench``
beside ``eval`` itself).
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from agent.cli_common import UserError, add_json_option, console, err_console, print_json

__all__ = ["add_eval_build", "register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the evaluation, simulation and benchmark commands."""
    eval_parser = sub.add_parser(
        "eval",
        help="build, run and report the EHR QA benchmark",
        description="The EHR question-answering benchmark: build a dataset from Synthea "
        "bundles, run a system on it, report scores.",
    )
    eval_sub = eval_parser.add_subparsers(dest="eval_command", metavar="STEP", required=True)
    add_eval_build(eval_sub)
    from evals.runner_cli import add_eval_report, add_eval_run

    add_eval_run(eval_sub)
    add_eval_report(eval_sub)

    from evals.simulation.cli import register as register_simulate

    register_simulate(sub)
    _register_bench(sub)


def _register_bench(sub: argparse._SubParsersAction) -> None:
    """``ehr-agent bench WHAT``: every ``evals/bench/bench_*.py`` module adds one benchmark."""
    import importlib
    import pkgutil

    import evals.bench

    parser = sub.add_parser(
        "bench",
        help="run a benchmark and print its figures (speed, size, cost)",
        description="Benchmarks print figures and write them as JSON and markdown; they are "
        "never pass/fail tests. `bench all` runs every one.",
    )
    bench_sub = parser.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    for info in sorted(pkgutil.iter_modules(evals.bench.__path__), key=lambda m: m.name):
        if info.name.startswith("bench_"):
            importlib.import_module(f"evals.bench.{info.name}").register(bench_sub)


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def add_eval_build(eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval build`` to the ``eval`` group."""
    parser = eval_sub.add_parser(
        "build",
        help="generate the QA dataset (JSONL) from raw Synthea bundles",
        description="Generate benchmark questions, deterministically, from raw FHIR bundles "
        "(.json or .json.gz files, or folders of them). Ground truth is computed from the "
        "files themselves, never through the agent's tools.",
    )
    parser.add_argument(
        "--bundles",
        nargs="+",
        type=Path,
        required=True,
        metavar="PATH",
        help="bundle files or folders (searched recursively for *.json and *.json.gz)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="output JSONL")
    parser.add_argument(
        "--as-of",
        type=_iso_day,
        metavar="DATE",
        help="ask every question as of this day (default: each patient's last record day)",
    )
    parser.add_argument("--seed", type=int, default=0, help="phrasing and sampling seed (0)")
    parser.add_argument(
        "--per-template",
        type=int,
        default=2,
        metavar="N",
        help="at most N questions per template per patient (2)",
    )
    parser.add_argument(
        "--per-category",
        type=int,
        default=8,
        metavar="N",
        help="at most N questions per category per patient (8)",
    )
    parser.add_argument(
        "--max-category-ratio",
        type=float,
        default=3.0,
        metavar="R",
        help="no category larger than R times the smallest one; 0 disables (3)",
    )
    add_json_option(parser)
    parser.set_defaults(handler=_build)


def _build(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from evals.builder import BuildError, BuildOptions, build_dataset
    from evals.builder.bundles import collect_bundle_paths
    from evals.dataset import DatasetError, write_items

    try:
        options = BuildOptions(
            seed=args.seed,
            as_of=args.as_of,
            per_template=args.per_template,
            per_category=args.per_category,
            max_category_ratio=args.max_category_ratio,
        )
        total = len(collect_bundle_paths(args.bundles))
        with Progress(
            TextColumn("[bold]reading bundles"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console(),
            transient=True,
            disable=args.json,
        ) as progress:
            task = progress.add_task("bundles", total=total)
            result = build_dataset(args.bundles, options, lambda _: progress.advance(task))
        write_items(result.items, args.out)
    except (BuildError, DatasetError) as exc:
        raise UserError(str(exc)) from exc
    summary = _summary(result.items)
    problems = [{"file": str(p.path), "error": p.reason} for p in result.problems]
    if args.json:
        print_json(
            {
                "out": str(args.out),
                "files": result.files,
                "patients": result.patients,
                "items": len(result.items),
                "templates": len({i.template_id for i in result.items}),
                **summary,
                "skipped_patients": result.skipped_patients,
                "problems": problems,
            }
        )
    else:
        _print_summary(args.out, result.files, result.patients, len(result.items), summary)
        for problem in problems:
            err_console().print(
                f"[yellow]skipped[/] {problem['file']}: {problem['error']}",
                highlight=False,
                soft_wrap=True,
            )
        if result.skipped_patients:
            err_console().print(
                f"[yellow]{len(result.skipped_patients)} patient(s) skipped: no record on or "
                "before the as-of day[/]"
            )
    return 0


def _summary(items: list[Any]) -> dict[str, Any]:
    by_category: Counter[str] = Counter(i.category for i in items)
    by_type: Counter[str] = Counter(i.answer_type for i in items)
    cells: Counter[tuple[str, str]] = Counter((i.category, i.answer_type) for i in items)
    return {
        "by_category": dict(sorted(by_category.items())),
        "by_answer_type": dict(sorted(by_type.items())),
        "by_category_and_type": {
            c: {t: cells[(c, t)] for t in sorted(by_type) if cells[(c, t)]}
            for c in sorted(by_category)
        },
    }


def _print_summary(
    out: Path, files: int, patients: int, count: int, summary: dict[str, Any]
) -> None:
    from rich.table import Table

    types = list(summary["by_answer_type"])
    table = Table(title=f"{count} items from {patients} patients ({files} files) -> {out}")
    table.add_column("category")
    for name in types:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right", style="bold")
    for category, per_type in summary["by_category_and_type"].items():
        table.add_row(
            category,
            *(str(per_type.get(t, "")) for t in types),
            str(summary["by_category"][category]),
        )
    table.add_row(
        "total", *(str(summary["by_answer_type"][t]) for t in types), str(count), style="bold"
    )
    console().print(table)

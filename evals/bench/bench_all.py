"""``ehr-agent bench all``: every benchmark in turn, with its default settings."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

__all__ = ["register"]


def register(bench_sub: argparse._SubParsersAction) -> None:
    """Add ``bench all``."""
    parser = bench_sub.add_parser(
        "all", help="run every benchmark with its defaults", description=__doc__
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import evals.bench
    from agent.cli import main

    status = 0
    for info in sorted(pkgutil.iter_modules(evals.bench.__path__), key=lambda m: m.name):
        name = info.name.removeprefix("bench_")
        if not info.name.startswith("bench_") or name == "all":
            continue
        importlib.import_module(f"evals.bench.{info.name}")
        print(f"== bench {name}", file=sys.stderr)
        status |= main(["bench", name, "--out", str(args.out)])
    return status

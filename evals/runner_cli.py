"""``ehr-agent eval run`` and ``ehr-agent eval report``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_eval_report", "add_eval_run"]


def add_eval_run(eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval run``."""
    from agent.cli_common import add_fhir_options, add_llm_options

    parser = eval_sub.add_parser(
        "run",
        help="answer a dataset's questions with one strategy and score them",
        description=(
            "Answer every item of a dataset with one strategy and score it. Strategies: "
            "agent (ours: plans FHIR queries through the evidence tools), full-context (the "
            "EHRQA method: the whole condensed record in the prompt, cut to the model's "
            "context), no-record (no record at all: the guess rate). Resumable: items already "
            "in DIR/results.jsonl are skipped. Infrastructure failures are recorded as errors, "
            "apart from wrong answers."
        ),
    )
    parser.add_argument("--dataset", type=Path, required=True, metavar="FILE")
    parser.add_argument(
        "--strategy", choices=["agent", "full-context", "no-record"], default="agent"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--concurrency", type=int, default=1, metavar="N", help="questions in flight (1)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N items")
    parser.add_argument(
        "--per-category",
        type=int,
        metavar="N",
        help="a stratified sample: N items per category (seeded)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    parser.add_argument(
        "--context-tokens",
        type=int,
        metavar="N",
        help="full-context: the record budget in tokens (default: the model's context "
        "minus room for the question and answer)",
    )
    add_fhir_options(parser)
    add_llm_options(parser)
    parser.set_defaults(handler=_run)


def add_eval_report(eval_sub: argparse._SubParsersAction) -> None:
    """Add ``eval report``."""
    parser = eval_sub.add_parser(
        "report",
        help="compare runs: markdown table and PNG charts",
        description=(
            "Compare one or more run folders side by side: accuracy per category per "
            "strategy with 95%% bootstrap intervals, the EHRQA-style macro average, retrieval "
            "precision/recall, tokens and latency; charts of accuracy by category and of "
            "prompt tokens against accuracy."
        ),
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.set_defaults(handler=_report)


def _run(args: argparse.Namespace) -> int:
    from evals.runner import run_command

    return run_command(args)


def _report(args: argparse.Namespace) -> int:
    from evals.report import report_command

    return report_command(args)

"""``ehr-agent eval report``: compare run folders side by side.

Each run folder is what ``ehr-agent eval run`` wrote (``run.json`` and ``results.jsonl``).
The figures are recomputed from ``results.jsonl`` with the same scoring code the runner
uses, so an interrupted run can be reported as far as it went (the report says how many
items each run holds). Written to ``--out``:

- ``report.md``: one column per run; per-category accuracy with its 95% bootstrap
  interval, the EHRQA-style macro average, overall accuracy, errors, retrieval
  precision/recall against the gold evidence ids, and cost (prompt tokens, LLM calls,
  FHIR requests, seconds per question; for full-context also the size of the whole record
  before it was cut to the model's context); with two or more runs, the first run against
  each other one on the items both answered: the accuracy difference with its paired
  bootstrap interval, and the ratio of prompt tokens;
- ``accuracy_by_category.png``: grouped bars, one group per category, one bar per run;
- ``tokens_vs_accuracy.png``: mean prompt tokens per question against macro accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli_common import UserError, console
from evals.runner import RESULTS, RUN_INFO, load_results, summarize
from evals.scoring import PairedOutcome, paired_difference

__all__ = ["RunView", "load_run", "render_markdown", "report_command", "write_charts"]


@dataclass(frozen=True)
class RunView:
    """One run folder, summarised for the report."""

    label: str
    folder: Path
    info: dict[str, Any]
    summary: dict[str, Any]
    items: int
    records: dict[str, dict[str, Any]]


def load_run(folder: Path) -> RunView:
    """Read a run folder; a clear error when it is not one."""
    info_path = folder / RUN_INFO
    results_path = folder / RESULTS
    if not info_path.is_file() or not results_path.is_file():
        raise UserError(
            f"{folder} is not a run folder (it needs {RUN_INFO} and {RESULTS}, "
            "as written by `ehr-agent eval run`)"
        )
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{info_path}: not valid JSON ({exc})") from None
    by_id = load_results(results_path)
    records = list(by_id.values())
    if not records:
        raise UserError(f"{results_path} holds no finished items yet")
    summary = summarize(records)
    label = f"{info.get('strategy', '?')} / {info.get('model', '?')}"
    return RunView(
        label=label, folder=folder, info=info, summary=summary, items=len(records), records=by_id
    )


def _unique_labels(runs: list[RunView]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for run in runs:
        count = seen.get(run.label, 0)
        seen[run.label] = count + 1
        labels.append(run.label if count == 0 else f"{run.label} ({run.folder.name})")
    return labels


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _acc_cell(stats: dict[str, Any] | None) -> str:
    if not stats or stats.get("accuracy") is None:
        return "–"
    ci = stats.get("accuracy_ci")
    interval = f" ({_pct(ci['low'])}–{_pct(ci['high'])})" if ci else ""
    return f"{_pct(stats['accuracy'])}{interval} n={stats['answered']}"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def render_markdown(runs: list[RunView]) -> str:
    """The comparison table as markdown."""
    labels = _unique_labels(runs)
    categories = sorted({c for run in runs for c in run.summary.get("per_category", {})})
    header = "| | " + " | ".join(labels) + " |"
    rule = "| --- |" + " ---: |" * len(runs)
    lines = [
        "# EHR QA evaluation report",
        "",
        "Accuracy in percent with the 95% bootstrap interval and the number of answered items. "
        "The macro average is the mean of per-category accuracies (the EHRQA convention). "
        "Infrastructure errors are not counted as wrong answers; the 'errors as wrong' row "
        "counts them as wrong.",
        "",
        "## Runs",
        "",
        "| run | folder | model | endpoint | items | dataset sha256 |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    for label, run in zip(labels, runs, strict=True):
        sha = str(run.info.get("dataset_sha256", ""))[:12]
        lines.append(
            f"| {label} | `{run.folder}` | {run.info.get('model', '?')} | "
            f"{run.info.get('endpoint', '?')} | {run.items} | `{sha}` |"
        )
    lines += ["", "## Accuracy", "", header, rule]

    def row(name: str, cells: list[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    for category in categories:
        row(category, [_acc_cell(run.summary["per_category"].get(category)) for run in runs])
    macro_cells = []
    for run in runs:
        s = run.summary
        ci = s.get("macro_accuracy_ci")
        interval = f" ({_pct(ci['low'])}–{_pct(ci['high'])})" if ci else ""
        macro_cells.append(f"**{_pct(s.get('macro_accuracy'))}**{interval}")
    row("**macro average**", macro_cells)
    row("overall (micro)", [_acc_cell(run.summary["overall"]) for run in runs])
    row(
        "macro, errors as wrong",
        [_pct(run.summary.get("macro_accuracy_errors_as_wrong")) for run in runs],
    )
    row("errors (infrastructure)", [str(run.summary["overall"]["errors"]) for run in runs])
    lines += ["", "## Retrieval and cost (means per question)", "", header, rule]
    row(
        "cited precision / recall vs gold ids",
        [
            f"{_pct(run.summary['overall'].get('retrieval_precision'))} / "
            f"{_pct(run.summary['overall'].get('retrieval_recall'))}"
            for run in runs
        ],
    )
    row(
        "gold ids shown to the model (recall)",
        [_pct(r.summary.get("shown_recall_mean")) for r in runs],
    )
    row("answers verified", [_pct(run.summary.get("verified_rate")) for run in runs])
    cost_rows = [
        ("prompt tokens", "prompt_tokens_mean", 0),
        ("completion tokens", "completion_tokens_mean", 0),
        ("LLM calls", "llm_calls_mean", 2),
        ("FHIR requests", "fhir_requests_mean", 2),
        ("seconds", "seconds_mean", 1),
        ("whole record, uncut (tokens)", "record_tokens_mean", 0),
    ]
    for name, key, digits in cost_rows:
        row(name, [_num(run.summary["cost"].get(key), digits) for run in runs])
    if len(runs) > 1:
        lines += _against_first(runs, labels)
    common = set.intersection(*(set(run.records) for run in runs)) if runs else set()
    if len(runs) > 1 and any(len(common) < run.items for run in runs):
        lines += [
            "",
            f"## Paired: the {len(common)} items every run finished",
            "",
            "The runs above hold different items (some stopped early); on the same items:",
            "",
            header,
            rule,
        ]
        paired = [summarize([run.records[i] for i in sorted(common)]) for run in runs]
        if common:
            row("overall (micro)", [_acc_cell(s["overall"]) for s in paired])
            row("macro average", [_pct(s.get("macro_accuracy")) for s in paired])
            row("prompt tokens", [_num(s["cost"].get("prompt_tokens_mean")) for s in paired])
    lines.append("")
    return "\n".join(lines)


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _against_first(runs: list[RunView], labels: list[str]) -> list[str]:
    """The first run minus each other run, on the items both answered without an error."""
    first = runs[0]
    lines = [
        "",
        f"## {labels[0]} against each other run (paired, same items)",
        "",
        f"Accuracy of {labels[0]} minus the other run's, in percentage points, on the items "
        "both answered without an infrastructure error, with the 95% paired bootstrap "
        "interval (the same resampled items scored for both runs; an interval above 0 means "
        f"{labels[0]} is ahead on this sample). Prompt tokens: {labels[0]}'s mean over the "
        "other run's, on the same items.",
        "",
        "| | " + " | ".join(labels[1:]) + " |",
        "| --- |" + " ---: |" * (len(runs) - 1),
    ]
    cells: dict[str, list[str]] = {"items": [], "micro": [], "macro": [], "tokens": []}
    for other in runs[1:]:
        shared = sorted(
            i
            for i in set(first.records) & set(other.records)
            if first.records[i]["score"] is not None and other.records[i]["score"] is not None
        )
        difference = paired_difference(
            [
                PairedOutcome(
                    category=first.records[i]["category"],
                    first=bool(first.records[i]["score"]["correct"]),
                    second=bool(other.records[i]["score"]["correct"]),
                )
                for i in shared
            ]
        )
        cells["items"].append(str(len(shared)))
        if difference is None:
            cells["micro"].append("–")
            cells["macro"].append("–")
            cells["tokens"].append("–")
            continue
        for key, point, ci in (
            ("micro", difference.micro, difference.micro_ci),
            ("macro", difference.macro, difference.macro_ci),
        ):
            cells[key].append(f"{_points(point)} ({_points(ci.low)} to {_points(ci.high)})")
        ours = sum(first.records[i]["usage"]["prompt_tokens"] for i in shared)
        theirs = sum(other.records[i]["usage"]["prompt_tokens"] for i in shared)
        cells["tokens"].append(f"{ours / theirs:.2f}" if theirs else "–")
    for name, key in (
        ("items both answered", "items"),
        ("accuracy difference (points)", "micro"),
        ("macro accuracy difference (points)", "macro"),
        ("prompt tokens, ratio", "tokens"),
    ):
        lines.append(f"| {name} | " + " | ".join(cells[key]) + " |")
    return lines


def write_charts(runs: list[RunView], out_dir: Path) -> list[Path]:
    """Draw both charts as PNG; returns the files written."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _unique_labels(runs)
    categories = sorted({c for run in runs for c in run.summary.get("per_category", {})})
    written = []

    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(categories) + 3), 4.8))
    width = 0.8 / max(1, len(runs))
    for index, (label, run) in enumerate(zip(labels, runs, strict=True)):
        values = []
        missing = []
        for category in categories:
            stats = run.summary["per_category"].get(category) or {}
            values.append(100 * (stats.get("accuracy") or 0.0))
            missing.append(stats.get("accuracy") is None)
        positions = [c + index * width - 0.4 + width / 2 for c in range(len(categories))]
        ax.bar(positions, values, width=width, label=label)
        for x, absent in zip(positions, missing, strict=True):
            if absent:  # no item of this category finished: say so, not 0 %
                ax.text(x, 1, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories, rotation=35, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy by category")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path = out_dir / "accuracy_by_category.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for label, run in zip(labels, runs, strict=True):
        tokens = run.summary["cost"].get("prompt_tokens_mean") or 0.0
        macro = 100 * (run.summary.get("macro_accuracy") or 0.0)
        ax.scatter([tokens], [macro], s=60, label=label)
        ax.annotate(label, (tokens, macro), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("mean prompt tokens per question")
    ax.set_ylabel("macro accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Prompt tokens against accuracy")
    fig.tight_layout()
    path = out_dir / "tokens_vs_accuracy.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def report_command(args: argparse.Namespace) -> int:
    """Handler for ``ehr-agent eval report``."""
    runs = [load_run(Path(folder)) for folder in args.runs]
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(runs)
    charts = write_charts(runs, out_dir)
    markdown += "\n![accuracy by category](accuracy_by_category.png)\n"
    markdown += "\n![prompt tokens against accuracy](tokens_vs_accuracy.png)\n"
    target = out_dir / "report.md"
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text(markdown)
    tmp.replace(target)
    console().print(f"wrote {target} and {', '.join(str(c) for c in charts)}")
    return 0

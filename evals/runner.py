"""``ehr-agent eval run``: answer a dataset with one strategy, score it, write it down.

Output folder:
- ``run.json``: what was run (strategy, dataset and its sha256, model, endpoint, budgets,
  sample), written first; a resumed run must match it;
- ``results.jsonl``: one scored record per item, appended and flushed as each finishes, so
  an interrupted run loses at most the items in flight; items already there are skipped
  when the run is started again;
- ``summary.json``: per-category and macro accuracy with 95% bootstrap intervals,
  retrieval precision/recall, tokens and latency (rewritten at the end).

Items are run grouped by patient: consecutive questions about one patient share the
prompt's prefix (system prompt and record), which the model server's prompt cache reuses.
Concurrency keeps that many questions in flight: it is what lets a GPU server's
continuous batching pay off.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agent.cli_common import UserError, console, err_console, settings_from_args
from agent.config import Settings
from evals.dataset import DatasetError, QAItem, read_items
from evals.scoring import ScoredRecord, aggregate, retrieval_scores, score_item
from evals.strategies import Outcome, Strategy

__all__ = ["RunConfig", "load_results", "run_command", "run_items", "sample_items"]

RESULTS = "results.jsonl"
RUN_INFO = "run.json"
SUMMARY = "summary.json"


def sample_items(
    items: Sequence[QAItem], *, per_category: int | None, limit: int | None, seed: int
) -> list[QAItem]:
    """A stratified sample (``per_category`` per category, seeded), then ``limit``.

    The sample is ordered round-robin over the categories (the first pick of every
    category, then the second, ...), so that ``limit``, or a run stopped part way, still
    covers every category about equally.
    """
    chosen = list(items)
    if per_category is not None:
        rng = random.Random(seed)
        by_category: dict[str, list[QAItem]] = defaultdict(list)
        for item in items:
            by_category[item.category].append(item)
        picks = []
        for category in sorted(by_category):
            group = sorted(by_category[category], key=lambda i: i.id)
            picks.append(rng.sample(group, min(per_category, len(group))))
        chosen = [pick[rank] for rank in range(per_category) for pick in picks if rank < len(pick)]
    if limit is not None:
        chosen = chosen[:limit]
    return chosen


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """Records already in ``results.jsonl`` (a torn last line from a crash is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[record["id"]] = record
    return done


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by a crash, so that appending starts clean."""
    if not path.exists():
        return
    with path.open("r+b") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def _record(item: QAItem, strategy: str, outcome: Outcome) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": item.id,
        "strategy": strategy,
        "patient_id": item.patient_id,
        "category": item.category,
        "template_id": item.template_id,
        "answer_type": item.answer_type,
        "question": item.question,
        "gold": item.gold,
        "answer": outcome.answer,
        "value": outcome.value,
        "unit": outcome.unit,
        "citations": outcome.citations,
        "verified": outcome.verified,
        "shown": outcome.shown,
        "evidence_ids": item.evidence_ids,
        "usage": outcome.usage,
        "context_tokens": outcome.context_tokens,
        "record_tokens": outcome.record_tokens or None,
        "error": outcome.error,
        "failure": outcome.failure,
    }
    if outcome.error is None:
        score = score_item(item, answer=outcome.answer, value=outcome.value)
        record["score"] = {"correct": score.correct, "value": score.value, "detail": score.detail}
        cited = retrieval_scores(outcome.citations, item.evidence_ids)
        shown = retrieval_scores(outcome.shown, item.evidence_ids)
        record["retrieval"] = {
            "precision": cited.precision,
            "recall": cited.recall,
            "shown_recall": shown.recall,
        }
    else:
        record["score"] = None
    return record


class RunConfig:
    """What a run is, for ``run.json`` (a resumed run must match)."""

    def __init__(self, **fields: Any) -> None:
        """Record the fields."""
        self.fields = fields

    def check_against(self, path: Path) -> None:
        """Refuse to resume a run made with a different setup."""
        if not path.exists():
            return
        previous = json.loads(path.read_text())
        for key in ("strategy", "dataset_sha256", "model", "sample"):
            if previous.get(key) != self.fields.get(key):
                raise UserError(
                    f"{path.parent} holds a run with a different {key} "
                    f"({previous.get(key)!r} vs {self.fields.get(key)!r}); use another --out"
                )

    def write(self, path: Path) -> None:
        """Write ``run.json`` atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.fields, indent=2, default=str) + "\n")
        tmp.replace(path)


async def run_items(
    items: Sequence[QAItem],
    strategy: Strategy,
    out_dir: Path,
    *,
    concurrency: int = 1,
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Answer and score ``items`` not yet in ``out_dir``; return every record of the run."""
    results_path = out_dir / RESULTS
    _drop_torn_tail(results_path)
    done = load_results(results_path)
    todo = [i for i in items if i.id not in done]
    todo.sort(key=lambda i: (i.patient_id, i.as_of, i.id))
    lock = asyncio.Lock()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    correct = errors = 0
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=err_console(),
        disable=not show_progress,
    )
    with results_path.open("a") as sink, progress:
        task = progress.add_task(
            strategy.name, total=len(items), completed=len(items) - len(todo), status=""
        )

        async def one(item: QAItem) -> None:
            nonlocal correct, errors
            async with semaphore:
                outcome = await strategy.answer(item)
            record = _record(item, strategy.name, outcome)
            async with lock:
                sink.write(json.dumps(record, default=str) + "\n")
                sink.flush()
                done[item.id] = record
                if record["error"]:
                    errors += 1
                elif record["score"]["correct"]:
                    correct += 1
                finished = len(todo) - sum(1 for i in todo if i.id not in done)
                progress.update(
                    task,
                    advance=1,
                    status=f"{correct}/{max(1, finished - errors)} correct, {errors} errors",
                )

        await asyncio.gather(*(one(item) for item in todo))
    return [done[i.id] for i in items if i.id in done]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate scored records: accuracy with intervals, retrieval, cost."""
    scored = [
        ScoredRecord(
            item_id=r["id"],
            category=r["category"],
            answer_type=r["answer_type"],
            score=None if r["score"] is None else _score(r["score"]),
            error=r["error"],
            retrieved_ids=tuple(r.get("citations") or ()),
            evidence_ids=tuple(r.get("evidence_ids") or ()),
        )
        for r in records
    ]
    summary = aggregate(scored).to_dict()
    answered = [r for r in records if not r["error"]]

    def mean(key: str) -> float | None:
        values = [float(r["usage"].get(key, 0)) for r in answered if r.get("usage")]
        return round(sum(values) / len(values), 2) if values else None

    summary["cost"] = {
        "prompt_tokens_mean": mean("prompt_tokens"),
        "completion_tokens_mean": mean("completion_tokens"),
        "llm_calls_mean": mean("llm_calls"),
        "fhir_requests_mean": mean("fhir_requests"),
        "seconds_mean": mean("seconds"),
    }
    whole = [int(r["record_tokens"]) for r in answered if r.get("record_tokens")]
    # full-context only: what the whole record would have cost, had nothing been cut
    summary["cost"]["record_tokens_mean"] = round(sum(whole) / len(whole), 2) if whole else None
    shown = [r["retrieval"]["shown_recall"] for r in answered if r.get("retrieval")]
    summary["shown_recall_mean"] = round(sum(shown) / len(shown), 4) if shown else None
    summary["verified_rate"] = (
        round(sum(1 for r in answered if r.get("verified")) / len(answered), 4)
        if answered
        else None
    )
    summary["model_failures"] = sum(1 for r in records if r.get("failure"))
    return summary


def _score(raw: dict[str, Any]) -> Any:
    from evals.scoring import Score

    return Score(correct=raw["correct"], value=raw["value"], detail=raw["detail"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _context_budget(args: argparse.Namespace, settings: Settings) -> int:
    if args.context_tokens:
        return int(args.context_tokens)
    # room for the system prompt, the instruction and the answer
    return (settings.local_ctx if settings.llm_url is None else 32768) - 1700


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from agent.runtime import agent_options, llm_backend, open_fhir

    settings = settings_from_args(args)
    try:
        items = read_items(args.dataset)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    chosen = sample_items(items, per_category=args.per_category, limit=args.limit, seed=args.seed)
    if not chosen:
        raise UserError("no items to run (check --limit / --per-category)")
    out_dir: Path = args.out
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    with llm_backend(settings) as backend:
        config = RunConfig(
            strategy=args.strategy,
            dataset=str(args.dataset),
            dataset_sha256=_sha256(args.dataset),
            sample={"per_category": args.per_category, "limit": args.limit, "seed": args.seed},
            items=len(chosen),
            model=backend.model_name,
            endpoint="embedded" if backend.embedded else backend.base_url,
            vision=backend.vision,
            max_steps=settings.max_steps,
            max_evidence_tokens=settings.max_evidence_tokens,
            context_tokens=_context_budget(args, settings),
            local_threads=settings.local_threads if backend.embedded else None,
            concurrency=args.concurrency,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        config.check_against(out_dir / RUN_INFO)
        config.write(out_dir / RUN_INFO)
        async with open_fhir(settings) as client:
            strategy = Strategy(
                args.strategy,
                client=client,
                model=backend.model,
                options=agent_options(settings, vision=backend.vision),
                context_tokens=_context_budget(args, settings),
                output_tokens=settings.tool_output_tokens,
            )
            started = time.perf_counter()
            records = await run_items(chosen, strategy, out_dir, concurrency=args.concurrency)
            elapsed = time.perf_counter() - started
    summary = summarize(records)
    summary["strategy"] = args.strategy
    summary["wall_seconds_this_invocation"] = round(elapsed, 1)
    tmp = out_dir / (SUMMARY + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    tmp.replace(out_dir / SUMMARY)
    return summary


def run_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent eval run``."""
    summary = asyncio.run(_run(args))
    overall = summary["overall"]
    macro = summary.get("macro_accuracy")
    macro_text = "n/a" if macro is None else f"{macro:.3f}"
    accuracy = "n/a" if overall["accuracy"] is None else f"{overall['accuracy']:.3f}"
    console().print(
        f"[bold]{summary['strategy']}[/]: {overall['correct']}/{overall['answered']} correct "
        f"(accuracy {accuracy}; macro {macro_text}), "
        f"{overall['errors']} infrastructure errors, "
        f"{summary['cost']['prompt_tokens_mean']} prompt tokens per question -> "
        f"{args.out / SUMMARY}"
    )
    return 0

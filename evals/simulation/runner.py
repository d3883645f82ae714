"""Running many cases: resumable, concurrent, and stopped cleanly by an outage.

Cases already finished in the output folder are skipped. The rest are simulated by
``concurrency`` workers; each finished case is written at once (transcript, then result).
A case whose request was refused is reported and left unfinished; an endpoint outage
cancels the cases in flight and stops the run, after the summary of what did finish is
written. Nothing half-written is ever left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evals.simulation.cases import SimulationCase
from evals.simulation.episode import EpisodeParts, run_episode
from evals.simulation.errors import CaseFailed, RoleUnavailable
from evals.simulation.records import CaseResult
from evals.simulation.store import RunStore
from evals.simulation.summary import summarize, summary_markdown

__all__ = ["RunReport", "run_simulation"]


@dataclass
class RunReport:
    """What a run did.

    Attributes:
        results: Every finished case of the selection (earlier runs included), in
            case-file order.
        simulated: Ids of the cases finished by this run.
        skipped: Ids of the cases already finished before it.
        failed: Cases this run could not simulate.
        summary: The summary document (also written to ``summary.json``).
    """

    results: list[CaseResult] = field(default_factory=list)
    simulated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[CaseFailed] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


async def run_simulation(
    cases: Sequence[SimulationCase],
    parts: EpisodeParts,
    store: RunStore,
    *,
    identity: dict[str, Any],
    concurrency: int = 1,
    on_result: Callable[[CaseResult], None] | None = None,
    on_failure: Callable[[CaseFailed], None] | None = None,
) -> RunReport:
    """Simulate every unfinished case and write the results and the summary.

    The store must already be prepared (:meth:`RunStore.prepare`).

    Raises:
        RoleUnavailable: An endpoint went down; the summary of the finished cases was
            written before this is raised.
        RunDirectoryError: The output folder holds results for changed cases.
    """
    finished = store.finished(cases)
    report = RunReport(skipped=[c.id for c in cases if c.id in finished])
    queue: asyncio.Queue[SimulationCase] = asyncio.Queue()
    for case in cases:
        if case.id not in finished:
            queue.put_nowait(case)

    async def worker() -> None:
        while not queue.empty():
            case = queue.get_nowait()
            try:
                result, turns = await run_episode(case, parts)
            except CaseFailed as failure:
                report.failed.append(failure)
                if on_failure is not None:
                    on_failure(failure)
                continue
            store.save(result, turns)
            finished[case.id] = result
            report.simulated.append(case.id)
            if on_result is not None:
                on_result(result)

    outage: RoleUnavailable | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, queue.qsize()))):
                group.create_task(worker())
    except* RoleUnavailable as outages:
        first = outages.exceptions[0]
        assert isinstance(first, RoleUnavailable)
        outage = first
    report.results = [finished[c.id] for c in cases if c.id in finished]
    report.summary = summarize(
        report.results,
        total_cases=len(cases),
        identity=identity,
        failed=[f.case_id for f in report.failed],
    )
    store.write_report(
        report.results, report.summary, summary_markdown(report.summary, report.results)
    )
    if outage is not None:
        raise outage
    return report

"""The ``simulate`` and ``simulate-cases`` handlers: wiring, progress and output.

``simulate`` opens every role's model (:mod:`evals.simulation.endpoints`), the FHIR
server and a checkpointer when some case has a FHIR patient, prepares the run folder and
runs the cases (:mod:`evals.simulation.runner`). Failures become
:class:`~agent.cli_common.UserError` with the project's exit codes: 1 bad input or some
cases failed, 2 a run folder with other settings, 3 the FHIR server down, 4 a model down.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any

from agent.cli_common import (
    FHIR_DOWN,
    LLM_DOWN,
    UserError,
    console,
    err_console,
    print_json,
    settings_from_args,
)
from agent.config import Settings
from evals.simulation.cases import SimulationCase, load_cases
from evals.simulation.ehr import EHRConsultant, missing_patients
from evals.simulation.endpoints import RoleModels, open_role_models
from evals.simulation.episode import EpisodeParts
from evals.simulation.errors import (
    CaseBuildError,
    CaseFailed,
    CaseFileError,
    RoleUnavailable,
    RunDirectoryError,
)
from evals.simulation.prompts import DEFAULT_SIMULATION_PROMPTS, SimulationPrompts
from evals.simulation.records import CaseResult, Turn
from evals.simulation.runner import RunReport, run_simulation
from evals.simulation.settings import ROLES, SimulationSettings
from evals.simulation.store import RunStore
from tools.fhir import FHIRError, FHIRUnavailable

__all__ = ["build_cases_command", "run_identity", "simulate_command"]


def simulate_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent simulate``; returns the exit code."""
    settings = settings_from_args(args)
    sim = SimulationSettings.load(vars(args))
    try:
        cases = load_cases(args.cases, limit=args.limit)
    except CaseFileError as exc:
        raise UserError(str(exc)) from None
    embedded = settings.llm_url is None or any(sim.endpoint(r).url is None for r in ROLES)
    if embedded and settings.local_parallel < sim.sim_concurrency:
        settings = settings.model_copy(update={"local_parallel": sim.sim_concurrency})
    store = RunStore(args.out)
    prompts = DEFAULT_SIMULATION_PROMPTS
    quiet = bool(getattr(args, "json", False))
    try:
        with open_role_models(settings, sim) as models:
            identity = run_identity(settings, sim, models, prompts)
            store.prepare(identity, _details(args, models))
            report = asyncio.run(
                _simulate(settings, sim, models, prompts, cases, store, identity, quiet=quiet)
            )
    except RoleUnavailable as exc:
        code = FHIR_DOWN if exc.kind.startswith("FHIR") else LLM_DOWN
        raise UserError(
            f"{exc} (finished cases are kept in {args.out}; rerun the same command to resume)",
            exit_code=code,
        ) from None
    except RunDirectoryError as exc:
        raise UserError(str(exc), exit_code=2) from None
    if quiet:
        print_json(
            {
                "out": str(args.out),
                "simulated": len(report.simulated),
                "skipped": len(report.skipped),
                "failed": [{"case": f.case_id, "error": str(f)} for f in report.failed],
                "summary": report.summary,
            }
        )
    else:
        _print_report(report, str(args.out))
    if report.failed:
        err_console().print(
            f"[yellow]{len(report.failed)} case(s) failed and were not recorded; rerun the "
            "same command to retry them[/]",
            highlight=False,
        )
        return 1
    return 0


def run_identity(
    settings: Settings, sim: SimulationSettings, models: RoleModels, prompts: SimulationPrompts
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    prompt_text = json.dumps(asdict(prompts), sort_keys=True)
    return {
        "models": models.names(),
        "max_turns": sim.sim_max_turns,
        "ehr_queries": sim.sim_ehr_queries,
        "role_temperature": sim.sim_role_temperature,
        "role_max_tokens": sim.sim_role_max_tokens,
        "doctor_max_tokens": sim.sim_doctor_max_tokens,
        "doctor_temperature": settings.llm_temperature,
        "agent_max_steps": settings.max_steps,
        "prompts_sha256": hashlib.sha256(prompt_text.encode()).hexdigest(),
    }


async def _simulate(
    settings: Settings,
    sim: SimulationSettings,
    models: RoleModels,
    prompts: SimulationPrompts,
    cases: list[SimulationCase],
    store: RunStore,
    identity: dict[str, Any],
    *,
    quiet: bool,
) -> RunReport:
    async with AsyncExitStack() as stack:
        factory = None
        if any(case.ehr is not None for case in cases):
            factory = await _ehr_factory(stack, settings, models, prompts, cases)
        parts = EpisodeParts(
            doctor=models.doctor.model,
            patient=models.patient.model,
            measurement=models.measurement.model,
            moderator=models.moderator.model,
            ehr=factory,
            max_turns=sim.sim_max_turns,
            ehr_queries=sim.sim_ehr_queries,
            prompts=prompts,
            model_names=dict(models.names()),
            on_turn=None if quiet else _announce_turn,
        )
        report = await run_simulation(
            cases,
            parts,
            store,
            identity=identity,
            concurrency=sim.sim_concurrency,
            on_result=None if quiet else _announce,
            on_failure=None if quiet else _announce_failure,
        )
    return report


async def _ehr_factory(
    stack: AsyncExitStack,
    settings: Settings,
    models: RoleModels,
    prompts: SimulationPrompts,
    cases: list[SimulationCase],
) -> Callable[[SimulationCase], EHRConsultant]:
    from agent.checkpoint import open_checkpointer
    from agent.graph import build_graph
    from agent.runtime import agent_options, open_fhir

    client = await stack.enter_async_context(open_fhir(settings))
    where = settings.fhir_url or "the embedded FHIR server"
    try:
        missing = await missing_patients(client, [c.ehr.patient_id for c in cases if c.ehr])
    except FHIRUnavailable as exc:
        raise UserError(
            f"the FHIR server ({where}) is unavailable: {exc}", exit_code=FHIR_DOWN
        ) from None
    except FHIRError as exc:
        raise UserError(
            f"the FHIR server ({where}) refused a request: {exc}", exit_code=FHIR_DOWN
        ) from None
    if missing:
        raise UserError(
            f"{len(missing)} patient(s) named by the cases are not on {where} (first: "
            f"Patient/{missing[0]}); load their bundles (ehr-agent fhir load) or point "
            "--fhir-url at a server that holds them"
        )
    saver = await stack.enter_async_context(open_checkpointer(":memory:"))
    graph = build_graph(saver)
    options = agent_options(settings, vision=models.ehr_vision)

    def consultant(case: SimulationCase) -> EHRConsultant:
        assert case.ehr is not None
        return EHRConsultant(
            client=client,
            model=models.ehr.model,
            link=case.ehr,
            graph=graph,
            options=options,
            thread_id=f"simulate-{case.id}",
            output_tokens=settings.tool_output_tokens,
            no_answer_text=prompts.ehr_no_answer,
            model_name=models.ehr.model_name,
        )

    return consultant


def _details(args: argparse.Namespace, models: RoleModels) -> dict[str, Any]:
    arguments = {
        name: ("***" if name.endswith("api_key") else str(value))
        for name, value in sorted(vars(args).items())
        if value is not None and name not in ("handler", "command", "json")
    }
    return {
        "arguments": arguments,
        "endpoints": {
            role: ("embedded" if model.embedded else model.base_url)
            for role, model in (
                ("doctor", models.doctor),
                ("patient", models.patient),
                ("measurement", models.measurement),
                ("moderator", models.moderator),
            )
        },
    }


def _announce_turn(turn: Turn) -> None:
    # Progress only: which role did what and how long it took, never what was said.
    err_console().print(
        f"[dim]{turn.case_id} turn {turn.turn}: {turn.role} {turn.action} "
        f"({turn.seconds:.0f} s, {turn.prompt_tokens}+{turn.completion_tokens} tokens)[/]",
        highlight=False,
    )


def _announce(result: CaseResult) -> None:
    verdict = "[green]correct[/]" if result.correct else "[red]incorrect[/]"
    err_console().print(
        f"{result.case_id}: {verdict} ({result.outcome}, {result.turns} turns, "
        f"{result.usage.seconds:.0f} s; judge {_yn(result.judge.correct)}, "
        f"fallback {_yn(result.fallback.correct)})",
        highlight=False,
    )


def _announce_failure(failure: CaseFailed) -> None:
    err_console().print(f"[yellow]failed[/] {failure}", highlight=False, soft_wrap=True)


def _yn(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def _print_report(report: RunReport, out: str) -> None:
    from rich.table import Table

    summary = report.summary
    table = Table(
        title=f"{summary['finished']} of {summary['cases']} cases finished "
        f"({len(report.simulated)} now, {len(report.skipped)} earlier) -> {out}"
    )
    for name in ("verdict", "correct", "n", "accuracy", "95% CI"):
        table.add_column(name, justify="left" if name == "verdict" else "right")
    for key, label in (
        ("moderator", "moderator"),
        ("judge", "LLM judge"),
        ("fallback", "deterministic"),
    ):
        acc = summary["accuracy"][key]
        rate = "n/a" if acc["accuracy"] is None else f"{acc['accuracy'] * 100:.1f}%"
        low, high = acc["ci95"]
        table.add_row(
            label, str(acc["correct"]), str(acc["n"]), rate, f"{low * 100:.1f}-{high * 100:.1f}%"
        )
    console().print(table)
    agreement = summary["agreement"]
    console().print(
        f"judge/fallback agreement: {agreement['agree']} of {agreement['cases']} "
        f"(kappa {agreement['cohen_kappa']}); summary in {out}/summary.md",
        highlight=False,
    )


def build_cases_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent simulate-cases``; returns the exit code."""
    from evals.simulation.ehr_cases import build_ehr_cases, write_case_file

    try:
        report = build_ehr_cases(
            args.bundles, per_diagnosis=args.per_diagnosis, max_cases=args.max_cases
        )
        write_case_file(report.cases, args.out)
    except CaseBuildError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc}") from None
    diagnoses = [case["OSCE_Examination"]["Correct_Diagnosis"] for case in report.cases]
    if args.json:
        print_json(
            {
                "out": str(args.out),
                "cases": len(report.cases),
                "files": report.files,
                "patients": report.patients,
                "candidates": report.candidates,
                "diagnoses": diagnoses,
                "problems": [{"file": str(p), "error": e} for p, e in report.problems],
            }
        )
    else:
        console().print(
            f"{len(report.cases)} cases ({len(set(diagnoses))} diagnoses) from "
            f"{report.patients} patients in {report.files} files "
            f"({report.candidates} qualifying visits) -> {args.out}",
            highlight=False,
        )
        for path, error in report.problems:
            err_console().print(
                f"[yellow]skipped[/] {path}: {error}", highlight=False, soft_wrap=True
            )
    return 0

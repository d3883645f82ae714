"""Handlers of ``ehr-agent serve-llm`` and ``ehr-agent doctor`` (parsers: agent.cli_commands)."""

from __future__ import annotations

import argparse
import json
import sys

from rich.markup import escape
from rich.table import Table

from agent.cli_common import UserError, console, err_console, print_json, settings_from_args
from agent.serving.doctor import run_doctor
from agent.serving.launch import VllmNotInstalled, exec_vllm
from agent.serving.model_shapes import ModelConfigError, load_model_shape
from agent.serving.vllm_command import ServeConfigError, VllmServeOptions, plan_vllm_serve

__all__ = ["doctor_command", "parse_images_per_prompt", "serve_llm_command"]


def parse_images_per_prompt(value: str) -> int:
    """Images per prompt from ``N``, vLLM's JSON ``{"image": N}`` or the old ``image=N``.

    Raises:
        argparse.ArgumentTypeError: Anything else, or modalities other than images.
    """
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    limits: object
    if text.startswith("{"):
        try:
            limits = json.loads(text)
        except json.JSONDecodeError:
            limits = None
    else:
        pairs = [item.split("=", 1) for item in text.split(",") if item]
        limits = {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2)}
    if not isinstance(limits, dict) or set(limits) != {"image"}:
        raise argparse.ArgumentTypeError(
            f"expected a number of images, got {value!r} (MedGemma takes images only)"
        )
    try:
        count = int(limits["image"])
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"image limit must be a whole number: {value!r}") from None
    return count


def serve_llm_command(args: argparse.Namespace) -> int:
    """Check the serving options, then print the ``vllm serve`` command or run it."""
    try:
        images = (
            None
            if args.images_per_prompt is None
            else parse_images_per_prompt(args.images_per_prompt)
        )
    except argparse.ArgumentTypeError as exc:
        raise _user_error(f"--images-per-prompt: {exc}") from None
    options = VllmServeOptions(
        model=args.model,
        tensor_parallel_size=args.tensor_parallel_size,
        pipeline_parallel_size=args.pipeline_parallel_size,
        distributed_executor_backend=args.distributed_executor_backend,
        gpus_per_node=args.gpus_per_node,
        max_model_len=args.max_model_len,
        images_per_prompt=images,
        served_model_name=args.served_model_name,
        gpu_memory_utilization=args.gpu_memory_utilization,
        dtype=args.dtype,
        host=args.host,
        port=args.port,
        extra_args=tuple(args.vllm_args or ()),
    )
    try:
        shape = load_model_shape(options.model, hf_cache=args.hf_cache)
        plan = plan_vllm_serve(options, shape)
    except ServeConfigError as exc:
        raise _user_error(
            "cannot serve with these settings:\n  - " + "\n  - ".join(exc.problems)
        ) from None
    except ModelConfigError as exc:
        raise _user_error(str(exc)) from None

    if args.json and args.dry_run:
        print_json(
            {
                "argv": plan.argv,
                "command": plan.shell,
                "warnings": plan.warnings,
                "executor": plan.executor,
                "shape_source": plan.shape.source if plan.shape else None,
            }
        )
        return 0
    for warning in plan.warnings:
        err_console().print(
            f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    if args.dry_run:
        sys.stdout.write(plan.shell + "\n")
        return 0
    err_console().print(f"starting: {escape(plan.shell)}", highlight=False, soft_wrap=True)
    try:
        exec_vllm(plan.argv)
    except VllmNotInstalled as exc:
        raise UserError(str(exc)) from None
    return 1  # pragma: no cover - exec only returns by raising


def doctor_command(args: argparse.Namespace) -> int:
    """Check the FHIR server and the model endpoint; exit 1 if either is down."""
    settings = settings_from_args(args)
    report = run_doctor(settings)
    if args.json:
        print_json(report.as_json())
        return 0 if report.ok else 1
    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("status")
    table.add_column("mode")
    table.add_column("target", overflow="fold")
    table.add_column("result", overflow="fold")
    for check in report.checks:
        status = "[green]ok[/]" if check.ok else "[bold red]DOWN[/]"
        table.add_row(check.name, status, check.mode, escape(check.target), escape(check.summary))
    console().print(table)
    if not report.ok:
        down = ", ".join(check.name for check in report.checks if not check.ok)
        err_console().print(f"[bold red]not ready:[/] {down}", highlight=False)
    return 0 if report.ok else 1


def _user_error(message: str) -> UserError:
    error = UserError(message)
    error.exit_code = 2
    return error

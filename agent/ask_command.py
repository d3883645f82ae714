"""The implementation of ``ehr-agent ask``: one question, answered with citations."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import date

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agent.cli_common import (
    DISCLAIMER,
    FHIR_DOWN,
    LLM_DOWN,
    UserError,
    console,
    err_console,
    print_json,
    settings_from_args,
)
from agent.events import AgentEvent
from agent.runtime import open_session
from agent.session import AgentResult, SessionPatientMismatch

__all__ = ["ask_command", "parse_as_of", "render_result"]


def parse_as_of(text: str | None) -> date | None:
    """``--as-of`` as a date, or a UserError."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of must be YYYY-MM-DD, got {text!r}", exit_code=2) from None


def render_result(result: AgentResult) -> Group:
    """The answer, its sources and its cost, for a terminal."""
    status = "[green]verified[/]" if result.verified else "[bold yellow]NOT verified[/]"
    body = Text(result.answer or "(no answer)")
    if result.value is not None:
        unit = f" {result.unit}" if result.unit else ""
        body.append(f"\n\nvalue: {result.value}{unit}", style="bold")
    sources = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    sources.add_column("cited resource", overflow="fold")
    sources.add_column("what it says", overflow="fold")
    for ref in result.citations:
        sources.add_row(ref, escape(result.evidence.get(ref, "")))
    u = result.usage
    cost = (
        f"{u['llm_calls']} LLM calls, {u['prompt_tokens']} prompt + {u['completion_tokens']} "
        f"completion tokens, {u['fhir_requests']} FHIR requests, {u['seconds']:.1f} s"
    )
    return Group(
        Panel(body, title=f"answer ({status})", title_align="left"),
        sources if result.citations else Text("no citations", style="yellow"),
        Text(cost, style="dim"),
        Text(DISCLAIMER, style="dim italic"),
    )


def _progress_line(item: AgentEvent) -> str | None:
    kind = item.get("type")
    data = item.get("data") or {}
    if kind == "step":
        return f"{item.get('node')}: {item.get('message')}"
    if kind == "evidence":
        rows, tokens = data.get("rows", 0), data.get("tokens", 0)
        return f"  {item.get('message')} -> {rows} rows, ~{tokens} tokens"
    return None


async def _ask(args: argparse.Namespace) -> AgentResult:
    settings = settings_from_args(args)
    choices = [c.strip() for c in args.choices.split("|")] if args.choices else None
    if args.answer_type == "choice" and not choices:
        raise UserError("--answer-type choice needs --choices 'A|B|C'", exit_code=2)
    as_of = parse_as_of(args.as_of)
    quiet = args.json
    async with open_session(
        settings,
        args.patient,
        as_of=as_of,
        thread_id=args.session,
        persistent=args.session is not None,
    ) as session:
        lines: list[str] = []
        final: AgentEvent | None = None
        spinner = Spinner("dots", text="thinking")
        live = Live(spinner, console=err_console(), transient=True)
        with live if not quiet else contextlib.nullcontext():
            try:
                async for item in session.stream(
                    args.question, answer_type=args.answer_type, choices=choices
                ):
                    if item.get("type") in ("final", "error"):
                        final = item
                        continue
                    line = _progress_line(item)
                    if line is not None:
                        lines.append(line)
                        spinner.update(text=line.strip())
                        live.update(spinner)
                    if args.verbose and item.get("type") == "evidence" and not quiet:
                        err_console().print(
                            Panel(
                                escape(str((item.get("data") or {}).get("text", ""))),
                                title=escape(str(item.get("message"))),
                            )
                        )
            except SessionPatientMismatch as exc:
                raise UserError(str(exc)) from None
        if final is None or final.get("type") == "error":
            failure = (final or {}).get("data", {}).get("failure", "")
            code = LLM_DOWN if failure.startswith("LLM") else FHIR_DOWN
            raise UserError(str((final or {}).get("message", "no answer")), exit_code=code)
        if not quiet:
            for line in lines:
                err_console().print(f"[dim]{escape(line)}[/]")
        doc = final["data"]["result"]
        return AgentResult(
            question=args.question,
            answer=doc["answer"],
            value=doc["value"],
            unit=doc["unit"],
            citations=doc["citations"],
            verified=doc["verified"],
            usage=doc["usage"],
            evidence={e["ref"]: e["summary"] for e in doc["evidence"]},
            thread_id=doc["session_id"],
            patient_id=doc["patient_id"],
        )


def ask_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent ask``."""
    result = asyncio.run(_ask(args))
    if args.json:
        print_json(result.to_json())
    else:
        console().print(render_result(result))
    return 0

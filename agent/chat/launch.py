"""``ehr-agent chat``: open the model and the FHIR server once, then run the chat.

The model is opened in the main thread (the embedded llama.cpp server loads in this
process and may take a while; Ctrl-C interrupts it like any command). The FHIR client
and the in-memory conversation store are opened on the background loop the agent runs
on, and closed there when the chat ends. An unreachable model endpoint at start is a
startup failure (exit 4); once the chat runs, failures end a question, not the chat.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from rich.markup import escape

from agent.chat.app import ChatApp, LineReader
from agent.chat.background_loop import BackgroundLoop
from agent.chat.services import open_services
from agent.cli_common import FHIR_DOWN, UserError, console, settings_from_args
from agent.runtime import llm_backend
from tools.fhir import FHIRError

__all__ = ["chat_command"]


def chat_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent chat``; the exit code."""
    settings = settings_from_args(args)
    out = console()
    read_line: LineReader = input
    if sys.stdin.isatty():
        # Line editing and in-memory history for input(); nothing is saved to disk.
        import readline  # noqa: F401
    else:
        read_line = _echoing_input

    with contextlib.ExitStack() as stack:
        where = settings.llm_url or f"the embedded {settings.local_model} model"
        with out.status(f"connecting to {escape(where)}…"):
            backend = stack.enter_context(llm_backend(settings))
        loop = stack.enter_context(BackgroundLoop())
        with out.status("opening the FHIR server…"):
            try:
                services = loop.hold(open_services(settings, backend.model, vision=backend.vision))
            except FHIRError as exc:
                raise UserError(
                    f"the FHIR server is unavailable: {exc}", exit_code=FHIR_DOWN
                ) from None
        model_label = (
            f"{backend.model_name} (embedded)"
            if backend.embedded
            else f"{backend.model_name} at {backend.base_url}"
        )
        app = ChatApp(
            console=out,
            loop=loop,
            services=services,
            model_label=model_label,
            as_of=settings.as_of,
            read_line=read_line,
        )
        return app.run(args.patient)


def _echoing_input(prompt: str) -> str:
    """``input`` for piped lines: show each line after its prompt, as a terminal would."""
    line = input(prompt)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return line

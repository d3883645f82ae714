"""The ``ehr-agent`` console script.

Each package registers its own subcommands (``register(subparsers)`` in its ``cli``
module) and imports its heavy dependencies only inside the handler, so ``--help`` stays
fast. Handlers return the process exit code. Errors that users can act on are printed
as one clear message on stderr; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from rich.markup import escape

from agent.cli_common import DISCLAIMER, UserError, err_console
from agent.config import ConfigError

__all__ = ["build_parser", "main"]


def _registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    from agent import backend_cli, chat_cli, cli_commands
    from evals import cli as evals_cli
    from fhir_fixtures import cli as fhir_cli
    from tools import cli as tools_cli

    return [
        fhir_cli.register,
        tools_cli.register,
        cli_commands.register,
        chat_cli.register,
        backend_cli.register,
        evals_cli.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ehr-agent",
        description=(
            "Answer questions about one patient's FHIR R4 record, with citations to the exact "
            "resources. " + DISCLAIMER
        ),
        epilog=(
            "Configuration: flags override EHR_AGENT_* environment variables (for example "
            "EHR_AGENT_FHIR_URL, EHR_AGENT_LLM_URL, EHR_AGENT_LLM_MODEL, EHR_AGENT_LLM_API_KEY), "
            "which override defaults. With nothing set, the embedded FHIR server and the "
            "embedded local model are used."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    # httpx logs every URL at INFO, query strings (patient ids) included: never let it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UserError, ConfigError) as exc:
        # escape: messages quote things like "pip install 'ehr-agent[vllm]'"; soft_wrap: never
        # break a path or a command inside an error (the terminal wraps, copying still works)
        err_console().print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        err_console().print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What every subcommand shares: consoles, the disclaimer, common flags, settings, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from typing import Any

from rich.console import Console

from agent.config import Settings

__all__ = [
    "DISCLAIMER",
    "FHIR_DOWN",
    "LLM_DOWN",
    "UserError",
    "add_fhir_options",
    "add_json_option",
    "add_llm_options",
    "console",
    "err_console",
    "print_json",
    "settings_from_args",
]

DISCLAIMER = (
    "Research and engineering tool, not a medical device: do not use it for clinical decisions."
)


class UserError(Exception):
    """A failure the user can act on; the CLI prints the message and exits with ``exit_code``.

    Exit codes: 1 bad input or not found, 2 configuration or usage, 3 the FHIR server is
    unavailable, 4 the model endpoint is unavailable.
    """

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


FHIR_DOWN = 3
LLM_DOWN = 4


@cache
def console() -> Console:
    """Human output on stdout."""
    return Console(highlight=False)


@cache
def err_console() -> Console:
    """Progress, warnings and errors on stderr, so stdout stays clean for --json."""
    return Console(stderr=True, highlight=False)


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (machine output)."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: one JSON document on stdout instead of rich output."""
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def add_fhir_options(parser: argparse.ArgumentParser) -> None:
    """Flags that select the FHIR server (defaults come from EHR_AGENT_* variables)."""
    group = parser.add_argument_group("FHIR server")
    group.add_argument(
        "--fhir-url",
        metavar="URL",
        help="FHIR R4 base URL (env EHR_AGENT_FHIR_URL; default: the embedded server)",
    )
    group.add_argument(
        "--fhir-auth",
        choices=["none", "bearer", "client-credentials", "smart-backend"],
        help="authentication to the FHIR server (env EHR_AGENT_FHIR_AUTH; default none)",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where embedded state lives "
        "(env EHR_AGENT_DATA_DIR; default ~/.local/share/ehr-agent)",
    )


def add_llm_options(parser: argparse.ArgumentParser) -> None:
    """Flags that select the LLM endpoint (defaults come from EHR_AGENT_* variables)."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--llm-url",
        metavar="URL",
        help="OpenAI-compatible base URL ending in /v1, e.g. a vLLM server "
        "(env EHR_AGENT_LLM_URL; default: the embedded local model)",
    )
    group.add_argument(
        "--llm-model", metavar="NAME", help="served model name (env EHR_AGENT_LLM_MODEL)"
    )
    group.add_argument(
        "--local-model",
        choices=["qwen2.5-1.5b", "smollm2-135m"],
        help="embedded model when no --llm-url (env EHR_AGENT_LOCAL_MODEL; default qwen2.5-1.5b)",
    )
    group.add_argument(
        "--local-threads",
        type=int,
        metavar="N",
        help="CPU threads for the embedded model (env EHR_AGENT_LOCAL_THREADS; default 1)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from flags over environment over defaults.

    Any parsed flag whose ``dest`` is a :class:`Settings` field overrides it.
    """
    overrides = {
        name: value
        for name, value in vars(args).items()
        if name in Settings.model_fields and value is not None
    }
    return Settings.load(overrides)

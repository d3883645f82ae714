"""The chat's slash commands: what they are called, what they take, and how to parse them.

A line that starts with ``/`` is a command; anything else is a question. Unknown
commands are reported with the closest known name, never sent to the model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["COMMANDS", "KEYS", "Command", "CommandSpec", "UnknownCommand", "parse_command"]


@dataclass(frozen=True)
class CommandSpec:
    """A command as /help shows it."""

    name: str
    usage: str
    help: str


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("help", "/help", "show this help"),
        CommandSpec(
            "patient",
            "/patient ID|NAME",
            "switch to another patient (a new conversation); without an argument, show "
            "the current one",
        ),
        CommandSpec(
            "as-of",
            "/as-of DATE|today",
            "read the record as of YYYY-MM-DD (a new conversation, same patient)",
        ),
        CommandSpec("reset", "/reset", "start a new conversation with the same patient"),
        CommandSpec(
            "sources", "/sources", "everything retrieved in this conversation, with handles"
        ),
        CommandSpec(
            "evidence",
            "/evidence N|HANDLE|Type/id",
            "what the model read about a cited resource, and the tool output it came from",
        ),
        CommandSpec("steps", "/steps [N]", "the steps of the last question (or question N)"),
        CommandSpec(
            "export",
            "/export [FILE]",
            "write this conversation as Markdown (default ehr-agent-chat-DATE-TIME.md)",
        ),
        CommandSpec("quit", "/quit", "leave the chat (also Ctrl-D)"),
    )
}

_ALIASES = {"exit": "quit", "q": "quit", "h": "help", "?": "help", "asof": "as-of"}

#: Keys, as /help explains them.
KEYS: tuple[tuple[str, str], ...] = (
    ("Ctrl-C while answering", "stop the answer; the chat goes on"),
    ("Ctrl-C at the prompt", "discard the line; twice in a row leaves the chat"),
    ("Ctrl-D at the prompt", "leave the chat"),
)


@dataclass(frozen=True)
class Command:
    """A parsed command line."""

    name: str
    """Canonical name (a key of :data:`COMMANDS`)."""
    argument: str
    """Everything after the name, stripped."""


class UnknownCommand(ValueError):
    """A ``/word`` that is not a command; ``suggestion`` is the closest name, if any."""

    def __init__(self, word: str, suggestion: str | None) -> None:
        hint = f"; did you mean /{suggestion}?" if suggestion else ""
        super().__init__(f"unknown command /{word}{hint} (/help lists the commands)")
        self.word = word
        self.suggestion = suggestion


def parse_command(line: str) -> Command | None:
    """The command on ``line``, or None when the line is a question.

    Raises:
        UnknownCommand: ``line`` starts with ``/`` but names no command.
    """
    text = line.strip()
    if not text.startswith("/"):
        return None
    word, _, argument = text[1:].partition(" ")
    name = word.lower()
    name = _ALIASES.get(name, name)
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
        raise UnknownCommand(word, close[0] if close else None)
    return Command(name=name, argument=argument.strip())

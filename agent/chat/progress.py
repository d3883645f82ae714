"""The live part of an answer: steps as they happen and the answer as it is written.

While the agent works, a transient region shows a spinner with the current step, one
line per query with how much it returned, and the answer text streaming in (its
citation handles already shown as the numbers they will get). When the answer is done
the region goes away and :func:`summary_line` folds the steps into one line.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.spinner import Spinner
from rich.text import Text

from agent.chat.conversation import ChatTurn, Conversation
from agent.chat.wording import counted
from agent.events import AgentEvent

__all__ = ["AnswerProgress", "labelled_text", "summary_line"]

#: Query lines kept on screen while working (the oldest scroll away).
_VISIBLE_QUERIES = 8
CITATION_STYLE = "bold cyan"


def labelled_text(conversation: Conversation, text: str, *, base: str = "") -> Text:
    """Answer text with its citations shown as conversation numbers (``[2]``)."""
    out = Text(style=base)
    for piece, ref in conversation.numbers.label(text, conversation.session.evidence.cites.resolve):
        out.append(piece, style=CITATION_STYLE if ref else None)
    return out


class AnswerProgress:
    """What the live region shows for one question; feed it every event."""

    def __init__(self, conversation: Conversation) -> None:
        """Follow the current question of ``conversation``."""
        self.conversation = conversation
        self.status = "starting"
        self.queries: list[Text] = []
        self.answer = ""
        self._spinner = Spinner("dots", style="cyan")
        self._started = time.perf_counter()

    def feed(self, item: AgentEvent) -> None:
        """Take one event into account (the conversation records it separately)."""
        kind = item.get("type")
        data = item.get("data") or {}
        message = str(item.get("message", ""))
        if kind == "step":
            self.status = message
            if item.get("node") == "answer":
                self.answer = ""  # a revision is written from the start
        elif kind == "evidence":
            self.queries.append(_query_line(message, data))
        elif kind == "token":
            self.answer += message

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        elapsed = time.perf_counter() - self._started
        self._spinner.update(
            text=Text.assemble((self.status, "bold"), (f"  {elapsed:.1f} s", "dim"))
        )
        parts: list[Text | Spinner] = [self._spinner]
        hidden = len(self.queries) - _VISIBLE_QUERIES
        if hidden > 0:
            parts.append(Text(f"  … {hidden} earlier queries", style="dim"))
        parts.extend(self.queries[-_VISIBLE_QUERIES:])
        if self.answer:
            parts.append(Text(""))
            parts.append(labelled_text(self.conversation, self.answer))
        yield Group(*parts)


def _query_line(call: str, data: dict[str, Any]) -> Text:
    if data.get("error"):
        return Text.assemble(("  ✗ ", "red"), (call, "bold"), (f"  {data['error']}", "red"))
    left_out = int(data.get("truncated") or 0)
    cut = f", {left_out} left out" if left_out else ""
    return Text.assemble(
        ("  ✓ ", "green"),
        (call, "bold"),
        (f"  {data.get('rows', 0)} rows, ~{data.get('tokens', 0)} tokens{cut}", "dim"),
    )


def summary_line(turn: ChatTurn) -> Text:
    """The steps of a finished turn folded into one line."""
    queries = f"{counted(turn.queries, 'query', 'queries')}, {counted(turn.rows, 'row')}"
    if turn.status == "answered" and turn.result is not None:
        usage = turn.result.get("usage") or {}
        seconds = float(usage.get("seconds") or turn.seconds)
        mark = (
            Text("✓ verified", style="green")
            if turn.result.get("verified")
            else Text("⚠ NOT verified", style="bold yellow")
        )
        calls = int(usage.get("llm_calls") or 0)
        requests = int(usage.get("fhir_requests") or 0)
        detail = (
            f" · {queries} · {counted(calls, 'model call')} "
            f"({usage.get('prompt_tokens', 0):,} + {usage.get('completion_tokens', 0):,} "
            f"tokens) · {counted(requests, 'FHIR request')} · {seconds:.1f} s"
        )
        return Text.assemble(mark, (detail, "dim"))
    return Text(f"{turn.status} after {turn.seconds:.1f} s · {queries}", style="dim")

"""One conversation as the chat remembers it: turns, tool outputs and citation numbers.

The agent session holds what the model needs (the thread, the citation handles, the
retrieved records). The chat additionally keeps, in memory only, what the user may want
to open later: every tool output of the conversation exactly as the model read it (for
``/evidence``), the steps of each question (for ``/steps``), and each answer with its
usage (for ``/export``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from agent.chat.citation_numbers import CitationNumbers, cited_in_order
from agent.events import AgentEvent
from agent.session import AgentSession
from tools.patients import PatientChoice

__all__ = ["ChatTurn", "Conversation", "EvidenceLine", "ToolOutput", "TurnStatus"]

TurnStatus = Literal["running", "answered", "failed", "stopped"]


@dataclass
class ToolOutput:
    """One tool result of the conversation, as the model read it."""

    turn: int
    """Number of the question it was fetched for (1-based)."""
    call: str
    """The call in words, e.g. ``search type=Condition``."""
    tool: str
    rows: int
    tokens: int
    left_out: int
    """Rows the tool left out to stay within its output budget."""
    error: str | None
    text: str


@dataclass(frozen=True)
class EvidenceLine:
    """A line of a tool output that mentions a resource."""

    output: ToolOutput
    line: str


@dataclass
class ChatTurn:
    """One question and what became of it."""

    number: int
    question: str
    asked_at: datetime
    status: TurnStatus = "running"
    result: dict[str, Any] | None = None
    """The agent's ``final`` result document (answer, citations, usage, evidence)."""
    failure: str = ""
    """Which part failed, for a failed turn."""
    failure_kind: str = ""
    """The failure's exception class (``FHIRUnavailable``, ``LLMOutputError``...)."""
    steps: list[str] = field(default_factory=list)
    """Progress messages, in order (planning rounds, calls, verification)."""
    queries: int = 0
    """Tool calls made (the record overview included)."""
    rows: int = 0
    """Records those calls returned."""
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)


class Conversation:
    """The chat's memory of one conversation about one patient."""

    def __init__(self, session: AgentSession, patient: PatientChoice) -> None:
        """Start an empty conversation on ``session``."""
        self.session = session
        self.patient = patient
        self.turns: list[ChatTurn] = []
        self.outputs: list[ToolOutput] = []
        self.numbers = CitationNumbers()
        self.started_at = datetime.now().astimezone()

    # ----- recording ------------------------------------------------------------------

    def begin(self, question: str) -> ChatTurn:
        """Open a turn for ``question``."""
        turn = ChatTurn(
            number=len(self.turns) + 1,
            question=question,
            asked_at=datetime.now().astimezone(),
        )
        self.turns.append(turn)
        return turn

    def record(self, turn: ChatTurn, item: AgentEvent) -> None:
        """Remember what a ``step``, ``evidence``, ``final`` or ``error`` event says."""
        kind = item.get("type")
        data = item.get("data") or {}
        message = str(item.get("message", ""))
        if kind == "step":
            turn.steps.append(message)
        elif kind == "evidence":
            output = ToolOutput(
                turn=turn.number,
                call=message,
                tool=str(data.get("tool", "")),
                rows=int(data.get("rows") or 0),
                tokens=int(data.get("tokens") or 0),
                left_out=int(data.get("truncated") or 0),
                error=data.get("error") or None,
                text=str(data.get("text", "")),
            )
            self.outputs.append(output)
            turn.queries += 1
            turn.rows += output.rows
            turn.steps.append(_describe_output(output))
        elif kind == "final":
            result = dict(data.get("result") or {})
            turn.result = result
            turn.status = "answered"
            self.numbers.assign(
                cited_in_order(str(result.get("answer", "")), result.get("citations") or [])
            )
            self._close(turn)
        elif kind == "error":
            turn.failure = message
            turn.failure_kind = str(data.get("failure", ""))
            turn.status = "failed"
            self._close(turn)

    def stop(self, turn: ChatTurn) -> None:
        """Mark ``turn`` as stopped by the user."""
        if turn.status == "running":
            turn.status = "stopped"
            self._close(turn)

    def _close(self, turn: ChatTurn) -> None:
        turn.seconds = time.perf_counter() - turn.started

    # ----- looking things up ----------------------------------------------------------

    @property
    def answered(self) -> list[ChatTurn]:
        """Turns with an answer."""
        return [t for t in self.turns if t.status == "answered"]

    def resolve(self, key: str) -> str | None:
        """``Type/id`` for a citation number, a handle (``C1``) or a ``Type/id`` seen."""
        key = key.strip().strip("[]").strip()
        if key.isdigit():
            return self.numbers.ref(int(key))
        return self.session.evidence.cites.resolve(key)

    def handle_of(self, ref: str) -> str | None:
        """The short handle the model saw for ``ref``."""
        for handle, known in self.session.evidence.cites.known().items():
            if known == ref:
                return handle
        return None

    def lines_about(self, ref: str) -> list[EvidenceLine]:
        """Every line of every tool output that cites ``ref``, in order."""
        handle = self.handle_of(ref)
        markers = [f"[{ref}]"] + ([f"[{handle}]"] if handle else [])
        found = []
        for output in self.outputs:
            for line in output.text.splitlines():
                if any(marker in line for marker in markers):
                    found.append(EvidenceLine(output, line))
        return found

    def citing_turns(self, ref: str) -> list[int]:
        """Numbers of the answered questions that cite ``ref``."""
        return [t.number for t in self.answered if ref in ((t.result or {}).get("citations") or [])]


def _describe_output(output: ToolOutput) -> str:
    if output.error:
        return f"{output.call}: {output.error}"
    cut = f", {output.left_out} left out" if output.left_out else ""
    return f"{output.call}: {output.rows} rows, ~{output.tokens} tokens{cut}"

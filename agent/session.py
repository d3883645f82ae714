"""The session layer every front end uses: one conversation about one patient.

An :class:`AgentSession` is created for one patient and one conversation (thread). It
owns the evidence session (bound to that patient for good), runs questions through the
graph, and turns what the graph emits into one event stream: ``step``, ``evidence``,
``token``, ``final`` and ``error``. Terminal chat, the HTTP backend, the simulation and
the eval runner all drive the agent through it; none of them talks to FHIR or the model
on its own.

Usage per question (LLM calls and tokens, FHIR requests, wall time) is measured here:
FHIR requests with :func:`tools.fhir.track_requests`, so concurrent questions sharing a
client are counted apart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig

from agent.answer_stream import AnswerTextStream
from agent.context import AgentContext, AgentOptions
from agent.events import AgentEvent, event
from agent.graph import AgentGraph, build_graph
from agent.llm import LLMError
from agent.state import ZERO_USAGE, AgentInput, Usage
from tools.fhir import FHIRClient, FHIRError, track_requests
from tools.index_cache import shared_index_cache
from tools.render import render_record
from tools.scope import ScopeBreach
from tools.session import EvidenceSession

__all__ = ["AgentFailure", "AgentResult", "AgentSession", "SessionPatientMismatch"]


class SessionPatientMismatch(Exception):
    """A conversation belongs to another patient; it cannot be continued for this one."""


@dataclass
class AgentResult:
    """The outcome of one question."""

    question: str
    answer: str
    value: Any
    unit: str | None
    citations: list[str]
    verified: bool
    usage: Usage
    evidence: dict[str, str] = field(default_factory=dict)
    """One line per cited resource: what the model read about it."""
    thread_id: str = ""
    patient_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``ask --json`` document."""
        return {
            "answer": self.answer,
            "value": self.value,
            "unit": self.unit,
            "citations": self.citations,
            "verified": self.verified,
            "usage": dict(self.usage),
            "evidence": [{"ref": ref, "summary": line} for ref, line in self.evidence.items()],
            "patient_id": self.patient_id,
            "session_id": self.thread_id,
        }


class AgentSession:
    """One conversation about one patient; the patient never changes."""

    def __init__(
        self,
        *,
        client: FHIRClient,
        model: BaseChatModel,
        patient_id: str,
        as_of: date | None = None,
        options: AgentOptions | None = None,
        graph: AgentGraph | None = None,
        thread_id: str | None = None,
        output_tokens: int = 1200,
        overview_tokens: int = 1500,
        checkpoint_at_exit: bool = False,
    ) -> None:
        """Bind a conversation to ``patient_id``.

        Args:
            client: FHIR client for the record's server.
            model: the chat model.
            patient_id: the patient this conversation may read.
            as_of: reference date of the conversation (today when None).
            options: budgets and behaviour.
            graph: a compiled graph; pass one built with a checkpointer for follow-ups.
            thread_id: conversation id (new when None).
            output_tokens: budget of one tool output.
            overview_tokens: budget of the record overview.
            checkpoint_at_exit: write the conversation's checkpoint once per turn, at the end
                (LangGraph ``durability="exit"``), instead of after every node.
        """
        self.evidence = EvidenceSession(
            client,
            patient_id,
            as_of=as_of,
            output_tokens=output_tokens,
            overview_tokens=overview_tokens,
            index_cache=shared_index_cache((options or AgentOptions()).index_cache_ttl_s),
        )
        self.context = AgentContext(
            session=self.evidence, model=model, options=options or AgentOptions()
        )
        self.graph = graph or build_graph()
        self.thread_id = thread_id or uuid.uuid4().hex
        self._checked_thread = False
        # checkpoint_at_exit: one checkpoint per turn, written when the graph ends (one write
        # instead of one per node: what a busy backend wants). A turn that fails leaves the
        # conversation as it was.
        self._durability: dict[str, Any] = (
            {"durability": "exit"}
            if checkpoint_at_exit and getattr(self.graph, "checkpointer", None)
            else {}
        )

    @property
    def patient_id(self) -> str:
        """The bound patient."""
        return self.evidence.patient_id

    @property
    def as_of(self) -> date:
        """The conversation's reference date."""
        return self.evidence.as_of

    def _config(self) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread_id}, "recursion_limit": 60}

    async def _check_thread(self) -> None:
        """Refuse to continue another patient's conversation; restore citation handles."""
        if self._checked_thread or self.graph.checkpointer is None:
            return
        snapshot = await self.graph.aget_state(self._config())
        values = snapshot.values or {}
        owner = values.get("patient_id")
        if owner and owner != self.patient_id:
            raise SessionPatientMismatch(
                f"conversation {self.thread_id} belongs to another patient"
            )
        if values.get("handles"):
            self.evidence.restore(values["handles"])
        self._checked_thread = True

    async def stream(
        self,
        question: str,
        *,
        answer_type: str | None = None,
        choices: list[str] | None = None,
        context_text: str | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Answer ``question``, yielding events; the last is ``final`` or ``error``.

        ``context_text`` is for graphs built in direct mode (the eval baselines).
        """
        started = time.perf_counter()
        await self._check_thread()
        payload = AgentInput(
            question=question,
            answer_type=answer_type,
            choices=choices,
            patient_id=self.patient_id,
            context_text=context_text,
        )
        final: dict[str, Any] = {}
        text_stream = AnswerTextStream()
        with track_requests() as fhir:
            try:
                # With several stream modes, LangGraph yields (mode, chunk) pairs.
                parts = cast(
                    AsyncIterator[tuple[str, Any]],
                    self.graph.astream(
                        payload,
                        self._config(),
                        context=self.context,
                        stream_mode=["custom", "messages", "values"],
                        **self._durability,
                    ),
                )
                async for mode, chunk in parts:
                    if mode == "custom":
                        if chunk.get("node") == "answer":
                            text_stream = AnswerTextStream()  # a revision starts over
                        yield chunk
                    elif mode == "messages":
                        message, meta = chunk
                        if meta.get("langgraph_node") == "answer" and isinstance(
                            message, AIMessageChunk
                        ):
                            piece = text_stream.feed(message.text)
                            if piece:
                                yield event("token", "answer", piece)
                    elif mode == "values":
                        final = chunk
            except (LLMError, FHIRError, ScopeBreach) as exc:
                yield event("error", "", _describe_failure(exc), failure=type(exc).__name__)
                return
        usage = Usage(**{**ZERO_USAGE, **(final.get("usage") or {})})
        usage["fhir_requests"] = fhir.requests
        usage["seconds"] = round(time.perf_counter() - started, 3)
        result = AgentResult(
            question=question,
            answer=str(final.get("answer", "")),
            value=final.get("value"),
            unit=final.get("unit"),
            citations=list(final.get("citations") or []),
            verified=bool(final.get("verified")),
            usage=usage,
            evidence=self._summaries(list(final.get("citations") or [])),
            thread_id=self.thread_id,
            patient_id=self.patient_id,
        )
        yield event("final", "", result.answer, result=result.to_json())

    async def ask(
        self, question: str, *, answer_type: str | None = None, choices: list[str] | None = None
    ) -> AgentResult:
        """Answer ``question`` and return the result (raises on an outage)."""
        last: AgentEvent | None = None
        async for item in self.stream(question, answer_type=answer_type, choices=choices):
            last = item
        if last is None or last.get("type") != "final":
            message = last.get("message", "no answer") if last else "no answer"
            raise AgentFailure(message, kind=(last or {}).get("data", {}).get("failure", ""))
        return _result_from(last["data"]["result"], question)

    def _summaries(self, refs: list[str]) -> dict[str, str]:
        out = {}
        for ref in refs:
            rec = self.evidence.retrieved.get(ref)
            if rec is not None:
                line = render_record(rec, self.evidence.cites)
                out[ref] = line.rsplit(" [", 1)[0]
            elif ref == self.evidence.patient_ref:
                out[ref] = "the patient's record (the search that found nothing)"
        return out

    def sources(self) -> list[tuple[str, str, str]]:
        """Every piece of evidence shown so far: (handle, Type/id, summary line)."""
        rows = []
        for handle, ref in self.evidence.cites.known().items():
            rec = self.evidence.retrieved.get(ref)
            if rec is not None:
                rows.append((handle, ref, render_record(rec, self.evidence.cites)))
        return rows


class AgentFailure(Exception):
    """A question could not be answered because a part failed (the message says which)."""

    def __init__(self, message: str, *, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, LLMError):
        return f"the language model failed: {exc}"
    if isinstance(exc, ScopeBreach):
        return f"the FHIR server broke the patient scope: {exc}"
    return f"the FHIR server failed: {exc}"


def _result_from(doc: dict[str, Any], question: str) -> AgentResult:
    return AgentResult(
        question=question,
        answer=doc["answer"],
        value=doc["value"],
        unit=doc["unit"],
        citations=doc["citations"],
        verified=doc["verified"],
        usage=Usage(**{**ZERO_USAGE, **doc["usage"]}),
        evidence={e["ref"]: e["summary"] for e in doc["evidence"]},
        thread_id=doc["session_id"],
        patient_id=doc["patient_id"],
    )

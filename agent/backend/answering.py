"""Answering one question for one caller: checks first, then the agent's event stream.

:func:`prepare_question` does everything that can refuse the request, before a response
starts, so that refusals are real HTTP statuses: the SMART patient pin (checked before
any FHIR request is made), the question limit, a slot in the run gate, the FHIR client,
the patient, the conversation and its lock. :class:`QuestionRun` then runs the agent in a
task of its own under the request's deadline and hands its events over through a queue,
so that the deadline holds whatever the consumer (a slow stream reader) does, and what the
question holds is released when the agent stops, whoever reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from agent.backend.callers import Caller
from agent.backend.errors import (
    APIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    Timeout,
    Unavailable,
    UpstreamError,
    error_payload,
)
from agent.backend.resources import BackendResources
from agent.backend.schemas import AskRequest, AskResponse, Citation, UsageBody
from agent.backend.sessions import load_conversation, new_session_id, thread_id
from agent.events import AgentEvent, event
from agent.session import AgentSession, SessionPatientMismatch
from tools.fhir import BearerToken, FHIRClient

__all__ = [
    "PreparedQuestion",
    "QuestionRun",
    "answer_from_final",
    "error_event_payload",
    "error_for_failure",
    "prepare_question",
]


@dataclass
class PreparedQuestion:
    """A question ready to run; ``stack`` holds its slot, lock and FHIR client.

    Attributes:
        session: The agent session, bound to the patient.
        session_id: The public id of the conversation.
        request: The request.
        caller: Who asked.
        deadline: Event-loop time by which it must be answered.
        timeout_s: The time it was given.
        stack: Closed when the answer is done (releases everything).
    """

    session: AgentSession
    session_id: str
    request: AskRequest
    caller: Caller
    deadline: float
    timeout_s: float
    stack: AsyncExitStack


def _requested_id(text: str) -> str:
    text = text.strip()
    return text.removeprefix("Patient/")


async def prepare_question(
    res: BackendResources, caller: Caller, request: AskRequest
) -> PreparedQuestion:
    """Check and open everything a question needs; refuse with an :class:`APIError`.

    Raises:
        Forbidden: A SMART caller named another patient than its token's (nothing was
            sent to the FHIR server about it).
        InvalidRequest: The question is too long, or no patient was given.
        Unavailable: No slot (``overloaded``), or the FHIR server is down.
        NotFound: Unknown patient or session.
        Conflict: The session is another patient's, or busy.
        Timeout: The preparation used up the request's time.
    """
    limit = res.config.max_question_chars
    if len(request.question) > limit:
        raise InvalidRequest(
            f"the question has {len(request.question)} characters; the limit is {limit}",
            code="question_too_long",
        )
    smart = caller.smart
    if smart is not None:
        if request.patient is not None and _requested_id(request.patient) != smart.patient_id:
            raise Forbidden(
                "the access token is for another patient: a SMART app may only ask about "
                "the patient it was launched for",
                code="patient_not_in_context",
            )
    elif request.patient is None:
        raise InvalidRequest("'patient' is required with an API key", code="patient_required")
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(res.gate.slot())
        timeout_s = res.config.request_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                session, session_id = await _open_session(res, caller, request, stack)
        except TimeoutError:
            raise Timeout(f"the question was not answered within {timeout_s:g} s") from None
        return PreparedQuestion(session, session_id, request, caller, deadline, timeout_s, stack)
    except BaseException:
        await stack.aclose()
        raise


async def _open_session(
    res: BackendResources, caller: Caller, request: AskRequest, stack: AsyncExitStack
) -> tuple[AgentSession, str]:
    settings = res.settings
    if caller.smart is not None and caller.token is not None:
        client = await stack.enter_async_context(
            FHIRClient(
                caller.smart.fhir_base,
                auth=BearerToken(caller.token),
                timeout=settings.fhir_timeout,
                max_retries=settings.fhir_max_retries,
                retry_budget_s=settings.fhir_retry_budget_s,
                max_pages=settings.fhir_max_pages,
            )
        )
        patient_id = caller.smart.patient_id
    else:
        client = res.fhir
        assert request.patient is not None
        patient_id = await res.patients.resolve(request.patient)
    if request.session_id is not None:
        session_id = request.session_id
        thread = thread_id(caller.owner, session_id)
        conversation = await load_conversation(res.graph, thread)
        if conversation is None:
            raise NotFound(f"no session {session_id} for this caller", code="session_not_found")
        if conversation.patient_id != patient_id:
            raise Conflict(
                "this session is about another patient; start a new session",
                code="session_other_patient",
            )
    else:
        session_id = new_session_id()
        thread = thread_id(caller.owner, session_id)
    stack.enter_context(res.sessions.hold(thread))
    session = AgentSession(
        client=client,
        model=res.model,
        patient_id=patient_id,
        as_of=request.as_of or settings.as_of,
        options=res.options,
        graph=res.graph,
        thread_id=thread,
        output_tokens=settings.tool_output_tokens,
        checkpoint_at_exit=True,
    )
    return session, session_id


def error_for_failure(kind: str, message: str, caller: Caller) -> APIError:
    """The HTTP refusal for an agent ``error`` event of failure ``kind``."""
    if kind == "LLMUnavailable":
        return Unavailable(message, code="model_unavailable", retry_after_s=10)
    if kind.startswith("LLM"):
        return UpstreamError(message, code="model_error")
    if kind == "FHIRUnavailable":
        return Unavailable(message, code="fhir_unavailable", retry_after_s=5)
    if kind == "FHIRAuthError":
        if caller.kind == "smart":
            return Forbidden(
                f"the FHIR server refused the app's access token: {message}",
                code="fhir_forbidden",
            )
        return UpstreamError(message, code="fhir_auth_failed")
    if kind in ("FHIRNotFound", "FHIRGone"):
        return NotFound(message, code="patient_not_found")
    if kind == "ScopeBreach":
        return UpstreamError(message, code="fhir_scope_breach")
    if kind == "SessionPatientMismatch":
        return Conflict(message, code="session_other_patient")
    if kind == "Timeout":
        return Timeout(message)
    return UpstreamError(message, code="fhir_error")


class QuestionRun:
    """A prepared question being answered, in a task of its own.

    The agent starts at once and runs under the request's deadline whether or not anyone
    reads its events (a stream whose client went away before the first byte still ends,
    and still releases its slot, lock and FHIR client). Reading with :meth:`events` and
    stopping early cancels it.

    Args:
        prepared: The question.
        tasks: Where the running task is kept (asyncio keeps only weak references), so
            that the process can cancel what is left when it shuts down.
    """

    def __init__(self, prepared: PreparedQuestion, tasks: set[asyncio.Task[None]]) -> None:
        self.prepared = prepared
        self._queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._produce(), name="ehr-agent-question")
        tasks.add(self._task)
        self._task.add_done_callback(tasks.discard)

    async def _produce(self) -> None:
        prepared, request = self.prepared, self.prepared.request
        try:
            async with asyncio.timeout_at(prepared.deadline):
                async for item in prepared.session.stream(
                    request.question, answer_type=request.answer_type, choices=request.choices
                ):
                    self._queue.put_nowait(item)
        except TimeoutError:
            message = f"the question was not answered within {prepared.timeout_s:g} s"
            self._queue.put_nowait(event("error", "", message, failure="Timeout"))
        except SessionPatientMismatch as exc:
            self._queue.put_nowait(event("error", "", str(exc), failure="SessionPatientMismatch"))
        finally:
            self._queue.put_nowait(None)
            await prepared.stack.aclose()

    async def events(
        self, *, idle_s: float | None = None
    ) -> AsyncGenerator[AgentEvent | None, None]:
        """The agent's events; ``final`` or ``error`` comes last.

        A question that overruns its deadline ends with an ``error`` event of failure
        ``Timeout``; a defect of the agent is raised here.

        Args:
            idle_s: Yield ``None`` after this long without an event (stream keep-alives).
        """
        try:
            while True:
                try:
                    async with asyncio.timeout(idle_s):
                        item = await self._queue.get()
                except TimeoutError:
                    yield None
                    continue
                if item is None:
                    break
                yield item
            await self._task
        finally:
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task


def answer_from_final(result: dict[str, Any], session_id: str) -> AskResponse:
    """The response body for a ``final`` event's ``data["result"]``."""
    summaries = {item["ref"]: item["summary"] for item in result.get("evidence") or []}
    return AskResponse(
        answer=result["answer"],
        value=result.get("value"),
        unit=result.get("unit"),
        citations=[Citation(ref=ref, summary=summaries.get(ref)) for ref in result["citations"]],
        verified=result["verified"],
        usage=UsageBody(**result["usage"]),
        session_id=session_id,
        patient_id=result["patient_id"],
    )


def error_event_payload(item: AgentEvent, caller: Caller) -> tuple[int, dict[str, Any]]:
    """Status and :class:`ErrorBody` payload for an ``error`` event."""
    failure = str((item.get("data") or {}).get("failure", ""))
    error = error_for_failure(failure, str(item.get("message", "")), caller)
    return error.status, error_payload(error.code, error.message)

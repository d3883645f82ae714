"""The HTTP endpoints: ask, ask as a stream, read a conversation, health and readiness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Security
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agent.backend.answering import (
    QuestionRun,
    answer_from_final,
    error_for_failure,
    prepare_question,
)
from agent.backend.callers import Caller, authenticate
from agent.backend.errors import NotFound
from agent.backend.readiness import check_readiness
from agent.backend.resources import BackendResources
from agent.backend.schemas import (
    AskRequest,
    AskResponse,
    ErrorBody,
    Health,
    Readiness,
    SessionTurn,
    SessionView,
)
from agent.backend.sessions import load_conversation, thread_id
from agent.backend.sse import sse_stream

__all__ = ["router"]

router = APIRouter()

_API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A service caller's API key (one of EHR_AGENT_API_KEYS).",
    auto_error=False,
)
_BEARER = HTTPBearer(
    scheme_name="Bearer",
    description="An API key; or, with the X-FHIR-Server header, a SMART app's access token "
    "(forwarded to that FHIR server, which enforces its scopes; the token's patient context "
    "pins the conversation).",
    auto_error=False,
)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or unknown API key; malformed, inactive or expired SMART token."),
    403: _error(
        "SMART: the FHIR server is not allowed, the token has no patient context, or it is "
        "for another patient."
    ),
    429: _error("The caller's rate limit is exhausted (see Retry-After)."),
    502: _error("The authorization server, FHIR server or model answered wrongly."),
    503: _error("Introspection, FHIR or model unreachable, or the server is full (Retry-After)."),
}
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH_ERRORS,
    400: _error("The body could not be read (for example, it is not UTF-8)."),
    404: _error("Unknown patient, or no such session for this caller."),
    409: _error("The session is about another patient, or busy with another question."),
    413: _error("The request body is too large."),
    422: _error("The request does not match the schema, or the question is too long."),
    504: _error("The question was not answered within the configured time."),
}


async def resources(request: Request) -> BackendResources:
    """The process's shared parts (async: a plain function would run in a thread)."""
    res: BackendResources = request.app.state.resources
    return res


async def current_caller(
    request: Request,
    res: Annotated[BackendResources, Depends(resources)],
    api_key: Annotated[str | None, Security(_API_KEY)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    fhir_server: Annotated[
        str | None,
        Header(
            alias="X-FHIR-Server",
            description="SMART apps: the FHIR base URL the app was launched against (must be "
            "on the server's allow-list); the bearer token is then the app's access token.",
        ),
    ] = None,
) -> Caller:
    """Authenticate the request and charge the caller's rate limit."""
    caller = await authenticate(
        keys=res.keys,
        no_auth=res.config.no_auth,
        smart=res.smart,
        api_key=api_key,
        bearer=bearer.credentials if bearer else None,
        fhir_server=fhir_server,
        client=request.client.host if request.client else "",
    )
    res.limiter.check(caller.owner)
    return caller


Resources = Annotated[BackendResources, Depends(resources)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses=_ASK_ERRORS,
    summary="Answer one question about one patient",
    tags=["questions"],
)
async def ask(body: AskRequest, res: Resources, caller: CurrentCaller) -> AskResponse:
    """Answer with citations to the exact FHIR resources, each with a one-line summary.

    Returns the same document as the `final` event of `/v1/ask/stream`.
    """
    prepared = await prepare_question(res, caller, body)
    last = None
    async for item in QuestionRun(prepared, res.tasks).events():
        if item is not None and item.get("type") in ("final", "error"):
            last = item
    if last is None or last.get("type") == "error":
        failure = str(((last or {}).get("data") or {}).get("failure", ""))
        raise error_for_failure(failure, str((last or {}).get("message", "no answer")), caller)
    return answer_from_final(last["data"]["result"], prepared.session_id)


@router.post(
    "/v1/ask/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `step`, `evidence`, `token` in the order the "
            "agent emits them, then `final` (the /v1/ask response body) or `error` "
            "(`{status, error, message, details}`), always last.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **_ASK_ERRORS,
    },
    summary="Answer one question, streaming the agent's progress",
    tags=["questions"],
)
async def ask_stream(body: AskRequest, res: Resources, caller: CurrentCaller) -> StreamingResponse:
    """Stream the agent's work as server-sent events.

    Refusals found before the agent starts (auth, limits, unknown patient or session) are
    HTTP errors like on `/v1/ask`; failures after it started are an `error` event.
    """
    prepared = await prepare_question(res, caller, body)
    return StreamingResponse(
        sse_stream(QuestionRun(prepared, res.tasks)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/sessions/{session_id}",
    response_model=SessionView,
    responses={
        **_AUTH_ERRORS,
        404: _error("No such session for this caller."),
        422: _error("The session id is malformed."),
    },
    summary="Read a conversation",
    tags=["sessions"],
)
async def get_session(
    session_id: Annotated[
        str, Path(pattern=r"^[0-9a-f]{32}$", description="A session_id returned by /v1/ask.")
    ],
    res: Resources,
    caller: CurrentCaller,
) -> SessionView:
    """The conversation's patient and turns; only for the caller that owns it.

    The owner is the same API key, or the same SMART patient context (FHIR server and
    patient). For anyone else the session does not exist (404).
    """
    conversation = await load_conversation(res.graph, thread_id(caller.owner, session_id))
    if conversation is None:
        raise NotFound(f"no session {session_id} for this caller", code="session_not_found")
    return SessionView(
        session_id=session_id,
        patient_id=conversation.patient_id,
        turns=[SessionTurn(question=q, answer=a, citations=c) for q, a, c in conversation.turns],
    )


@router.get("/healthz", response_model=Health, summary="The process is up", tags=["operations"])
async def healthz() -> Health:
    """Always `ok` while the process serves requests (no dependency is checked)."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not reachable."}},
    summary="The FHIR server and the model are reachable",
    tags=["operations"],
)
async def readyz(res: Resources) -> JSONResponse:
    """200 when the FHIR server (R4 CapabilityStatement) and the model endpoint answer."""
    report = await check_readiness(res)
    return JSONResponse(report.model_dump(mode="json"), status_code=200 if report.ready else 503)

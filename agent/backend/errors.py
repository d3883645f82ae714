"""Every refusal the API makes, as one small hierarchy rendered as one JSON shape.

::

    APIError                    .status .code .message .headers
    ├── Unauthorized        401 missing, unknown or inactive credentials
    ├── Forbidden           403 valid credentials, but not for this (patient, server)
    ├── NotFound            404 unknown session or patient
    ├── Conflict            409 session of another patient, or busy
    ├── InvalidRequest      422 a request the schema cannot express as wrong
    ├── RateLimited         429 the caller's token bucket is empty (Retry-After)
    ├── UpstreamError       502 the model, FHIR or authorization server misbehaved
    ├── Unavailable         503 a part is down, or the process is full (Retry-After)
    └── Timeout             504 the question took longer than the configured limit

Bodies are ``{"error": code, "message": text, "details": [...] | null}``
(:class:`agent.backend.schemas.ErrorBody`). Messages never carry record contents.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "APIError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Timeout",
    "Unauthorized",
    "Unavailable",
    "UpstreamError",
    "error_payload",
    "install_error_handlers",
    "retry_after_header",
]

log = logging.getLogger("ehr_agent.backend")


def retry_after_header(seconds: float) -> dict[str, str]:
    """A ``Retry-After`` header (whole seconds, at least 1)."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class APIError(Exception):
    """A refusal with an HTTP status, a stable machine code and a human message."""

    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})


class Unauthorized(APIError):
    """401: no credentials, unknown key, or an inactive/expired SMART token."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(APIError):
    """403: the credentials do not cover this request."""

    status = 403
    code = "forbidden"


class NotFound(APIError):
    """404: no such session (for this caller) or patient."""

    status = 404
    code = "not_found"


class Conflict(APIError):
    """409: the session belongs to another patient, or another question is running in it."""

    status = 409
    code = "conflict"


class InvalidRequest(APIError):
    """422: a request that is well-formed JSON but cannot be served as asked."""

    status = 422
    code = "invalid_request"


class RateLimited(APIError):
    """429: the caller sent more than its rate allows."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, headers=retry_after_header(retry_after_s))


class UpstreamError(APIError):
    """502: the model, the FHIR server or the authorization server answered wrongly."""

    status = 502
    code = "upstream_error"


class Unavailable(APIError):
    """503: a part is unreachable, or the process has no room for another question."""

    status = 503
    code = "unavailable"

    def __init__(
        self, message: str, *, code: str | None = None, retry_after_s: float | None = None
    ) -> None:
        headers = retry_after_header(retry_after_s) if retry_after_s is not None else None
        super().__init__(message, code=code, headers=headers)


class Timeout(APIError):
    """504: the question was not answered within the configured time."""

    status = 504
    code = "timeout"


def error_payload(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict:
    """The JSON body of every error response (and of a stream's ``error`` event)."""
    return {"error": code, "message": message, "details": details}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return JSONResponse(
        error_payload(exc.code, exc.message), status_code=exc.status, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Input values are left out: they may be questions about a patient.
    details = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    return JSONResponse(
        error_payload("invalid_request", "the request does not match the schema", details),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_payload(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug: the traceback goes to the log by type and location only (no request data).
    log.error("internal error %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return JSONResponse(
        error_payload("internal_error", "internal error; the server log has the details"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, framework ones included, as an :data:`error_payload` body."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)

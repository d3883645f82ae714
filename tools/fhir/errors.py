"""What can go wrong talking to a FHIR server, as one small exception hierarchy.

::

    FHIRError                 any failure: .method .path .param_names .status .diagnostics
    ├── FHIRUnavailable       connect errors and timeouts, 5xx, 408, and 429/502/503/504 once the
    │                         retries or the retry time budget are spent
    ├── FHIRAuthError         401/403 from the server; the token endpoint refused the client
    │                         (any 4xx there); no token endpoint configured or discoverable
    ├── FHIRNotFound          404: the resource or the resource type does not exist here
    ├── FHIRGone              410: the resource was deleted
    ├── FHIRBadRequest        400/413/414/422: the server refused the request as malformed
    │                         (.issues holds the OperationOutcome); also raised before sending
    │                         when an id, type or parameter name is not valid FHIR syntax
    │                         (.status is then None)
    ├── FHIRConflict          409/412: version conflict, or a conditional request matched
    │                         several resources
    ├── FHIRNotSupported      405/406/415/501: the server does not offer this interaction
    └── FHIRProtocolError     the server broke the protocol: invalid or truncated JSON, not the
                              resource or Bundle that was asked for, an unexpected redirect, a
                              next link that loops, is relative or leaves the configured server

Guidance for callers: FHIRBadRequest (and FHIRNotFound for an id the caller was given) can be
fixed by whoever built the request, so an evidence tool may hand it back to the model as a
message. Everything else is an outage or a server defect and must propagate as such: it is
never evidence that the record holds nothing.

Messages name the method, the URL path and the *names* of the query parameters, never their
values: a FHIR search query carries patient ids and clinical codes, and these messages end up
in logs. The server's diagnostics text is kept (it is what makes a 400 fixable) but cut to a
bounded length.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
import orjson

__all__ = [
    "FHIRAuthError",
    "FHIRBadRequest",
    "FHIRConflict",
    "FHIRError",
    "FHIRGone",
    "FHIRNotFound",
    "FHIRNotSupported",
    "FHIRProtocolError",
    "FHIRUnavailable",
    "Issue",
    "describe_url",
    "error_from_response",
]

_MAX_DIAGNOSTICS = 1000


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome issue, reduced to what a caller can act on."""

    severity: str
    code: str
    diagnostics: str | None = None
    details: str | None = None
    expression: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The human-readable part: diagnostics, else details.text, else the issue code."""
        return self.diagnostics or self.details or self.code


class FHIRError(Exception):
    """A FHIR request failed. Subclasses say how; attributes say where.

    Attributes:
        method: HTTP method, or None when the failure is not tied to one request.
        path: URL path of the request (no query string).
        param_names: names of the query parameters sent (values are never kept).
        status: HTTP status of the final response; None for transport or local failures.
        diagnostics: the server's explanation (OperationOutcome diagnostics or OAuth
            error_description), bounded in length; empty when it gave none.
        issues: the OperationOutcome issues of the error response, if any.
        request_id: the server's X-Request-Id, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        param_names: tuple[str, ...] = (),
        status: int | None = None,
        diagnostics: str = "",
        issues: tuple[Issue, ...] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.param_names = param_names
        self.status = status
        self.diagnostics = diagnostics
        self.issues = issues
        self.request_id = request_id

    @property
    def message(self) -> str:
        """The full message, as ``str(error)``."""
        return str(self)


class FHIRUnavailable(FHIRError):
    """The server could not be reached or kept failing: an outage, not an empty record."""


class FHIRAuthError(FHIRError):
    """Authentication or authorisation failed (server 401/403, or the token endpoint)."""


class FHIRNotFound(FHIRError):
    """404: no such resource (or resource type) on this server."""


class FHIRGone(FHIRError):
    """410: the resource existed and was deleted."""


class FHIRBadRequest(FHIRError):
    """The request was malformed: the server said so (400/413/414/422) or the client refused it.

    ``issues`` carries the server's OperationOutcome issues; ``status`` is None when the client
    rejected an argument before sending anything.
    """


class FHIRConflict(FHIRError):
    """409/412: a version conflict or an ambiguous conditional request."""


class FHIRNotSupported(FHIRError):
    """405/406/415/501: the server does not offer this interaction or format."""


class FHIRProtocolError(FHIRError):
    """The server's answer breaks the FHIR/HTTP contract, so nothing from it can be trusted."""


_BY_STATUS: dict[int, type[FHIRError]] = {
    400: FHIRBadRequest,
    401: FHIRAuthError,
    403: FHIRAuthError,
    404: FHIRNotFound,
    405: FHIRNotSupported,
    406: FHIRNotSupported,
    408: FHIRUnavailable,
    409: FHIRConflict,
    410: FHIRGone,
    412: FHIRConflict,
    413: FHIRBadRequest,
    414: FHIRBadRequest,
    415: FHIRNotSupported,
    422: FHIRBadRequest,
    429: FHIRUnavailable,
    501: FHIRNotSupported,
}


def describe_url(url: httpx.URL | str) -> tuple[str, tuple[str, ...]]:
    """Split a URL into its path and the sorted, de-duplicated names of its query parameters.

    This is how every message and log line in the package refers to a request: enough to
    debug it, nothing that identifies a patient.
    """
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    names = tuple(sorted({name for name, _ in parsed.params.multi_items()}))
    return parsed.path or "/", names


def _where(method: str | None, path: str | None, param_names: tuple[str, ...]) -> str:
    where = f"{method or ''} {path or ''}".strip()
    if param_names:
        where += f" [params: {', '.join(param_names)}]"
    return where


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DIAGNOSTICS else text[: _MAX_DIAGNOSTICS - 1] + "…"


def _issues(body: Any) -> tuple[Issue, ...]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ()
    issues = []
    for raw in body.get("issue") or ():
        if not isinstance(raw, dict):
            continue
        details = raw.get("details")
        expression = raw.get("expression") or raw.get("location") or ()
        issues.append(
            Issue(
                severity=str(raw.get("severity", "error")),
                code=str(raw.get("code", "unknown")),
                diagnostics=raw.get("diagnostics")
                if isinstance(raw.get("diagnostics"), str)
                else None,
                details=details.get("text") if isinstance(details, dict) else None,
                expression=tuple(str(e) for e in expression if isinstance(e, str)),
            )
        )
    return tuple(issues)


def _diagnostics(body: Any, issues: tuple[Issue, ...]) -> str:
    if issues:
        return _bounded("; ".join(issue.text for issue in issues))
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        # An OAuth 2.0 error response (RFC 6749 §5.2) from a token endpoint.
        description = body.get("error_description")
        text = body["error"] + (f": {description}" if isinstance(description, str) else "")
        return _bounded(text)
    return ""


def error_from_response(
    method: str,
    url: httpx.URL | str,
    status: int,
    body: bytes,
    *,
    headers: httpx.Headers | None = None,
    token_endpoint: bool = False,
    note: str = "",
) -> FHIRError:
    """Build the exception for a final error response; the one place statuses are mapped.

    Args:
        method: HTTP method of the request.
        url: URL of the request (only its path and parameter names are kept).
        status: HTTP status of the response.
        body: raw response body; an OperationOutcome (or an OAuth error object) is read from it.
        headers: response headers (for X-Request-Id).
        token_endpoint: the response came from an OAuth token endpoint, where every 4xx means
            the client was refused (RFC 6749 §5.2 answers ``invalid_client`` with 400 or 401).
        note: what the client did before giving up (retries, budget), appended to the message.

    Returns:
        The exception to raise; not raised here so that callers can chain it.
    """
    path, param_names = describe_url(url)
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    issues = _issues(parsed)
    diagnostics = _diagnostics(parsed, issues)
    if token_endpoint and 400 <= status < 500 and status != 429:
        cls: type[FHIRError] = FHIRAuthError
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = FHIRUnavailable
    elif 300 <= status < 400:
        cls = FHIRProtocolError
    else:
        cls = FHIRError
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "unknown status"
    target = "token endpoint" if token_endpoint else "FHIR"
    message = f"{target} {_where(method, path, param_names)} -> {status} {reason}"
    if diagnostics:
        message += f": {diagnostics}"
    if note:
        message += f" ({note})"
    return cls(
        message,
        method=method,
        path=path,
        param_names=param_names,
        status=status,
        diagnostics=diagnostics,
        issues=issues,
        request_id=headers.get("x-request-id") if headers is not None else None,
    )


def request_error(
    cls: type[FHIRError],
    method: str | None,
    url: httpx.URL | str | None,
    reason: str,
    *,
    status: int | None = None,
) -> FHIRError:
    """Build an exception that no error response explains (transport failure, bad payload)."""
    path, param_names = describe_url(url) if url is not None else (None, ())
    where = _where(method, path, param_names)
    message = f"FHIR {where}: {reason}" if where else f"FHIR: {reason}"
    return cls(message, method=method, path=path, param_names=param_names, status=status)

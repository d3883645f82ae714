"""Errors the server answers with, each an HTTP status plus an OperationOutcome.

::

    FHIRServerError (status, issue code)           any failure answered with an OperationOutcome
    ├── InvalidRequest        400  invalid / not-supported (bad parameter, bad bundle, bad id)
    ├── Unauthorized          401  login (missing or wrong bearer token)
    ├── ResourceNotFound      404  not-found
    ├── MethodNotAllowed      405  not-supported
    ├── NotAcceptable         406  not-supported (only JSON is served)
    ├── VersionConflict       409/412  conflict (If-Match mismatch, duplicate entries)
    ├── ResourceGone          410  deleted
    ├── PayloadTooLarge       413  too-costly
    ├── UnsupportedMediaType  415  not-supported
    └── UnprocessableResource 422  invalid / structure (validation failed)

Handlers raise these; the application turns them into responses, so bad input never reaches
the 500 path.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FHIRServerError",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "PayloadTooLarge",
    "ResourceGone",
    "ResourceNotFound",
    "Unauthorized",
    "UnprocessableResource",
    "UnsupportedMediaType",
    "VersionConflict",
    "operation_outcome",
]


def operation_outcome(
    diagnostics: str, *, code: str = "processing", severity: str = "error", expression: str = ""
) -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FHIRServerError(Exception):
    """A request the server refuses; carries the HTTP status and the issue code."""

    status = 500
    code = "exception"

    def __init__(self, message: str, *, expression: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        if status is not None:
            self.status = status

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome describing this error."""
        return operation_outcome(self.message, code=self.code, expression=self.expression)


class InvalidRequest(FHIRServerError):
    """The request is malformed or asks for something unsupported (400)."""

    status = 400
    code = "invalid"


class Unauthorized(FHIRServerError):
    """No or wrong bearer token (401)."""

    status = 401
    code = "login"


class ResourceNotFound(FHIRServerError):
    """Unknown resource, type or route (404)."""

    status = 404
    code = "not-found"


class MethodNotAllowed(FHIRServerError):
    """The interaction is not supported on this URL (405)."""

    status = 405
    code = "not-supported"


class NotAcceptable(FHIRServerError):
    """The client accepts only formats the server does not produce (406)."""

    status = 406
    code = "not-supported"


class VersionConflict(FHIRServerError):
    """A version precondition failed (412) or the request conflicts with itself (409)."""

    status = 409
    code = "conflict"


class ResourceGone(FHIRServerError):
    """The resource was deleted (410)."""

    status = 410
    code = "deleted"


class PayloadTooLarge(FHIRServerError):
    """The request body exceeds the server's limit (413)."""

    status = 413
    code = "too-costly"


class UnsupportedMediaType(FHIRServerError):
    """The request body is not FHIR JSON (415)."""

    status = 415
    code = "not-supported"


class UnprocessableResource(FHIRServerError):
    """The resource fails validation against the R4 models (422)."""

    status = 422
    code = "invalid"

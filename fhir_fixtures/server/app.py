"""The HTTP face of the server: a Starlette app over :class:`FHIRService`.

Routes (``[base]`` is the server root): ``GET /metadata``; ``POST /`` (transaction, batch);
``GET|POST /{type}`` (search, create); ``POST /{type}/_search``; ``GET|PUT|DELETE
/{type}/{id}``; ``GET /Patient/{id}/$everything``. SQLite work runs in worker threads so the
event loop keeps accepting requests. Every error is an OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_fixtures.server.access_log import AccessLog, AccessLogMiddleware
from fhir_fixtures.server.capability import capability_statement
from fhir_fixtures.server.errors import (
    FHIRServerError,
    InvalidRequest,
    MethodNotAllowed,
    NotAcceptable,
    PayloadTooLarge,
    ResourceNotFound,
    UnsupportedMediaType,
    operation_outcome,
)
from fhir_fixtures.server.service import FHIR_JSON, FHIRService, Result, parse_if_match
from fhir_fixtures.server.store import Store
from fhir_fixtures.server.transactions import process_bundle

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_OPEN_PATHS = ("/metadata",)
_Handler = Callable[[Request], Awaitable[Response]]


def _json_response(
    status: int, body: bytes | None, headers: dict[str, str] | None = None
) -> Response:
    return Response(content=body or b"", status_code=status, headers=headers, media_type=FHIR_JSON)


def _error_response(error: FHIRServerError) -> Response:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ehr-agent-fhir"'
    return _json_response(error.status, orjson.dumps(error.outcome()), headers)


class _BearerAuth:
    """Require ``Authorization: Bearer <token>`` on everything but ``/metadata``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") not in _OPEN_PATHS:
            supplied = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    supplied = value
                    break
            if not hmac.compare_digest(supplied, self.expected):
                message = "a bearer token is required" if not supplied else "invalid bearer token"
                from fhir_fixtures.server.errors import Unauthorized

                await _error_response(Unauthorized(message))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _accepts_fhir_json(request: Request) -> bool:
    fmt = request.query_params.get("_format")
    if fmt is not None:
        return fmt in ("json", *_JSON_TYPES)
    accept = request.headers.get("accept", "")
    return any(kind in accept for kind in _JSON_TYPES)


def _check_accept(request: Request) -> None:
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt not in ("json", *_JSON_TYPES):
        raise NotAcceptable(f"_format={fmt} is not supported: this server speaks FHIR JSON only")
    accept = request.headers.get("accept")
    if not accept:
        return
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if not any(m in _JSON_TYPES or m in ("*/*", "application/*") for m in media):
        raise NotAcceptable(f"cannot produce {accept!r}: this server speaks FHIR JSON only")


def _prefer(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in request.headers.get("prefer", "").split(";"):
        for item in part.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                found[key.strip().lower()] = value.strip().strip('"')
    return found


def _query(request: Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query, keep_blank_values=True)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class _Endpoints:
    """Request handlers bound to one service."""

    def __init__(self, service: FHIRService, max_body_bytes: int) -> None:
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(f"the body exceeds {self.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"the body exceeds {self.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _json_body(self, request: Request, resource_type: str | None = None) -> Any:
        media = _media_type(request)
        body = await self._body(request)
        if resource_type == "Binary" and media not in _JSON_TYPES:
            return {
                "resourceType": "Binary",
                "contentType": media or "application/octet-stream",
                "data": base64.b64encode(body).decode("ascii"),
            }
        if media not in _JSON_TYPES:
            raise UnsupportedMediaType(
                f"Content-Type {media or '(none)'!r} is not supported: send application/fhir+json"
            )
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the body is not valid JSON: {exc}") from None

    async def metadata(self, request: Request) -> Response:
        _check_accept(request)
        return _json_response(200, orjson.dumps(capability_statement(_base(request), self.service)))

    async def root(self, request: Request) -> Response:
        _check_accept(request)
        bundle = await self._json_body(request)
        representation = _prefer(request).get("return") == "representation"
        response = await run_in_threadpool(
            process_bundle, self.service, bundle, base=_base(request), representation=representation
        )
        return _json_response(200, orjson.dumps(response))

    async def type_level(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        self.service.definition(resource_type)
        if request.method in ("GET", "HEAD"):
            _check_accept(request)
            return await self._search(request, resource_type, _query(request))
        _check_accept(request)
        resource = await self._json_body(request, resource_type)
        result = await run_in_threadpool(
            self.service.create, resource_type, resource, base=_base(request)
        )
        return self._write_response(request, result)

    async def search_post(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        self.service.definition(resource_type)
        _check_accept(request)
        if _media_type(request) != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType("_search takes application/x-www-form-urlencoded")
        body = (await self._body(request)).decode("utf-8", errors="replace")
        params = _query(request) + parse_qsl(body, keep_blank_values=True)
        return await self._search(request, resource_type, params)

    async def _search(
        self, request: Request, resource_type: str, params: list[tuple[str, str]]
    ) -> Response:
        strict = _prefer(request).get("handling") == "strict"
        body = await run_in_threadpool(
            self.service.search, resource_type, params, base=_base(request), strict=strict
        )
        return _json_response(200, body)

    async def instance(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        resource_id = request.path_params["id"]
        if request.method in ("GET", "HEAD"):
            stored = await run_in_threadpool(self.service.read, resource_type, resource_id)
            assert stored.body is not None
            headers = {
                "ETag": f'W/"{stored.version}"',
                "Last-Modified": formatdate(stored.last_updated, usegmt=True),
            }
            if resource_type == "Binary" and not _accepts_fhir_json(request):
                return _raw_binary(stored.body, headers)
            _check_accept(request)
            return _json_response(200, stored.body, headers)
        if_match = parse_if_match(request.headers.get("if-match"))
        if request.method == "DELETE":
            result = await run_in_threadpool(
                self.service.delete, resource_type, resource_id, if_match=if_match
            )
            return _json_response(result.status, result.body, result.headers)
        _check_accept(request)
        resource = await self._json_body(request, resource_type)
        if resource_type == "Binary" and isinstance(resource, dict) and "id" not in resource:
            resource["id"] = resource_id
        result = await run_in_threadpool(
            self.service.update,
            resource_type,
            resource_id,
            resource,
            base=_base(request),
            if_match=if_match,
        )
        return self._write_response(request, result)

    async def operation(self, request: Request) -> Response:
        resource_type = request.path_params["type"]
        operation = request.path_params["operation"]
        self.service.definition(resource_type)
        if resource_type != "Patient" or operation != "$everything":
            raise ResourceNotFound(f"{resource_type}/{{id}}/{operation} is not supported")
        _check_accept(request)
        strict = _prefer(request).get("handling") == "strict"
        body = await run_in_threadpool(
            self.service.everything,
            request.path_params["id"],
            _query(request),
            base=_base(request),
            strict=strict,
        )
        return _json_response(200, body)

    @staticmethod
    def _write_response(request: Request, result: Result) -> Response:
        preference = _prefer(request).get("return", "representation")
        body = result.body
        if preference == "minimal":
            body = None
        elif preference.lower() == "operationoutcome":
            body = orjson.dumps(
                operation_outcome(
                    f"{result.headers.get('Location', 'resource')} written",
                    code="informational",
                    severity="information",
                )
            )
        return _json_response(result.status, body, result.headers)


def _raw_binary(stored: bytes, headers: dict[str, str]) -> Response:
    resource = orjson.loads(stored)
    content_type = resource.get("contentType") or "application/octet-stream"
    try:
        content = base64.b64decode(resource.get("data") or "", validate=True)
    except binascii.Error:
        raise InvalidRequest("the stored Binary's data is not base64") from None
    return Response(content=content, media_type=content_type, headers=headers)


def _guard(handler: _Handler) -> _Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except FHIRServerError as error:
            return _error_response(error)

    guarded.__name__ = handler.__name__
    return guarded


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: FHIRServerError
    if exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not supported on {request.url.path}")
    elif exc.status_code == 404:
        error = ResourceNotFound(f"no FHIR endpoint at {request.url.path}")
    else:
        error = InvalidRequest(str(exc.detail), status=exc.status_code)
    return _error_response(error)


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error_response(
        FHIRServerError(f"internal server error ({type(exc).__name__})", status=500)
    )


def create_app(
    db_path: str | Path,
    *,
    validate: bool = True,
    token: str | None = None,
    access_log: AccessLog | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The embedded FHIR R4 server as an ASGI app over the SQLite file ``db_path``.

    Args:
        db_path: SQLite database (created with its folder if missing).
        validate: validate incoming resources against the R4 (R4B) models; turn off for bulk
            loads of trusted data.
        token: if set, every request but ``/metadata`` needs ``Authorization: Bearer token``.
        access_log: records every request (method, path, query, status).
        max_body_bytes: larger request bodies are refused with 413.

    Returns:
        The Starlette app; ``app.state.store`` is the open store (closed at shutdown).
    """
    store = Store(db_path)
    service = FHIRService(store, validate=validate)
    endpoints = _Endpoints(service, max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    routes = [
        Route("/metadata", _guard(endpoints.metadata), methods=["GET"]),
        Route("/", _guard(endpoints.root), methods=["POST"]),
        Route("/{type}", _guard(endpoints.type_level), methods=["GET", "POST"]),
        Route("/{type}/_search", _guard(endpoints.search_post), methods=["POST"]),
        Route("/{type}/{id}", _guard(endpoints.instance), methods=["GET", "PUT", "DELETE"]),
        Route("/{type}/{id}/{operation}", _guard(endpoints.operation), methods=["GET"]),
    ]
    middleware: list[Middleware] = []
    if access_log is not None:
        middleware.append(Middleware(AccessLogMiddleware, log=access_log))
    if token:
        middleware.append(Middleware(_BearerAuth, token=token))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.service = service
    return app

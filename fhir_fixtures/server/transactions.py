"""Transaction and batch Bundles.

A transaction is all or nothing: entries are checked and prepared first, then written in one
SQLite transaction in the order the spec prescribes (DELETE, POST, PUT, then GET), and any
failure rolls everything back and answers one OperationOutcome naming the entry index.
``urn:uuid:``/``urn:oid:`` fullUrls (and absolute fullUrls of PUT entries) are replaced by
the assigned ``Type/id`` in every reference of the bundle.

A batch processes each entry on its own (a savepoint per entry) and reports per-entry
statuses; its entries may not refer to each other.

Responses carry no resource bodies unless ``Prefer: return=representation``.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from fhir_fixtures.server.errors import (
    FHIRServerError,
    InvalidRequest,
    MethodNotAllowed,
    VersionConflict,
)
from fhir_fixtures.server.indexing import IndexRows
from fhir_fixtures.server.service import FHIRService, WriteResult, parse_if_match
from fhir_fixtures.server.store import WriteBatch
from fhir_fixtures.server.validation import check_id
from fhir_fixtures.server.values import format_instant

__all__ = ["process_bundle"]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
_STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    204: "204 No Content",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    410: "410 Gone",
    412: "412 Precondition Failed",
    422: "422 Unprocessable Entity",
}


@dataclass
class _Entry:
    index: int
    method: str
    resource_type: str
    resource_id: str | None
    query: list[tuple[str, str]]
    operation: str | None
    resource: dict[str, Any] | None
    full_url: str | None
    if_match: int | None
    rows: IndexRows | None = None


def _fail(index: int, error: FHIRServerError) -> FHIRServerError:
    wrapped = type(error)(f"entry {index}: {error.message}", expression=f"Bundle.entry[{index}]")
    wrapped.status = error.status
    return wrapped


def _parse_entry(index: int, raw: Any, base: str) -> _Entry:
    if not isinstance(raw, dict):
        raise InvalidRequest("an entry must be a JSON object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest("entry.request is required in transaction and batch bundles")
    method = request.get("method")
    url = request.get("url")
    if method not in _ORDER:
        raise MethodNotAllowed(f"request.method {method!r} is not supported")
    if not isinstance(url, str) or not url:
        raise InvalidRequest("entry.request.url is required")
    if url.startswith(base + "/"):
        url = url[len(base) + 1 :]
    if "?" in url or "://" in url:
        parts = urlsplit(url)
        path, query_text = parts.path.strip("/"), parts.query
    else:
        path, query_text = url.strip("/"), ""
    if "://" in url or path.count("/") > 2:
        raise InvalidRequest(f"request.url {url!r} is not a relative Type[/id] URL")
    segments = path.split("/") if path else []
    resource_type = segments[0] if segments else ""
    resource_id = segments[1] if len(segments) > 1 else None
    operation = segments[2] if len(segments) > 2 else None
    query = parse_qsl(query_text, keep_blank_values=True) if query_text else []
    resource = raw.get("resource")
    full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
    if_match = parse_if_match(request.get("ifMatch"))
    if method in ("POST", "PUT"):
        if query:
            raise InvalidRequest("conditional create/update is not supported")
        if not isinstance(resource, dict):
            raise InvalidRequest(f"{method} entries need a resource")
        if method == "POST" and resource_id is not None:
            raise InvalidRequest("POST goes to a type URL, not Type/id")
        if method == "PUT" and resource_id is None:
            raise InvalidRequest("PUT needs a Type/id URL")
        if operation is not None:
            raise InvalidRequest(f"request.url {url!r} is not a Type[/id] URL")
    if method == "DELETE" and (resource_id is None or query or operation is not None):
        raise InvalidRequest("DELETE needs a Type/id URL (conditional delete is not supported)")
    if resource_id is not None and not resource_id.startswith("$"):
        check_id(resource_id)
    return _Entry(
        index,
        method,
        resource_type,
        resource_id,
        query,
        operation,
        resource if isinstance(resource, dict) else None,
        full_url,
        if_match,
    )


def process_bundle(
    service: FHIRService, bundle: Any, *, base: str, representation: bool = False
) -> dict[str, Any]:
    """Process a transaction or batch Bundle and return the response Bundle.

    Raises:
        FHIRServerError: the bundle is not a transaction/batch, or (transaction) an entry
            failed; the message names the entry index.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest("POST to the base URL takes a Bundle")
    bundle_type = bundle.get("type")
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise InvalidRequest("Bundle.entry must be a list")
    if bundle_type == "transaction":
        responses = _transaction(service, raw_entries, base=base, representation=representation)
    elif bundle_type == "batch":
        responses = _batch(service, raw_entries, base=base, representation=representation)
    else:
        raise InvalidRequest(
            f"Bundle.type must be transaction or batch, not {bundle_type!r}", expression="type"
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": f"{bundle_type}-response",
        "meta": {"lastUpdated": format_instant(time.time())},
        "entry": responses,
    }


def _response_entry(written: WriteResult, base: str, *, representation: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": _STATUS_TEXT.get(written.status, str(written.status)),
        "etag": f'W/"{written.version}"',
        "lastModified": format_instant(written.last_updated),
    }
    entry: dict[str, Any] = {}
    if written.status in (200, 201):
        response["location"] = (
            f"{written.resource_type}/{written.resource_id}/_history/{written.version}"
        )
        entry["fullUrl"] = f"{base}/{written.resource_type}/{written.resource_id}"
        if representation and written.body is not None:
            entry["resource"] = orjson.loads(written.body)
    entry["response"] = response
    return entry


def _get(
    service: FHIRService, entry: _Entry, *, base: str, conn: sqlite3.Connection
) -> dict[str, Any]:
    if entry.resource_type == "metadata":
        from fhir_fixtures.server.capability import capability_statement

        return {"resource": capability_statement(base, service), "response": {"status": "200 OK"}}
    service.definition(entry.resource_type)
    if entry.resource_id is None:
        body = service.search(entry.resource_type, entry.query, base=base, conn=conn)
        return {"resource": orjson.loads(body), "response": {"status": "200 OK"}}
    if entry.resource_type == "Patient" and entry.operation == "$everything":
        body = service.everything(entry.resource_id, entry.query, base=base, conn=conn)
        return {"resource": orjson.loads(body), "response": {"status": "200 OK"}}
    if entry.operation is not None:
        raise InvalidRequest(
            f"GET {entry.resource_type}/{entry.resource_id}/{entry.operation} "
            "is not supported in bundles"
        )
    stored = service.read(entry.resource_type, entry.resource_id, conn=conn)
    assert stored.body is not None
    return {
        "fullUrl": f"{base}/{entry.resource_type}/{entry.resource_id}",
        "resource": orjson.loads(stored.body),
        "response": {
            "status": "200 OK",
            "etag": f'W/"{stored.version}"',
            "lastModified": formatdate(stored.last_updated, usegmt=True),
        },
    }


def _apply(
    service: FHIRService,
    batch: WriteBatch,
    entry: _Entry,
    *,
    now: float,
) -> WriteResult:
    assert entry.resource_id is not None
    if entry.method == "DELETE":
        return service.remove(
            batch, entry.resource_type, entry.resource_id, now=now, if_match=entry.if_match
        )
    assert entry.resource is not None
    return service.write(
        batch,
        entry.resource_type,
        entry.resource_id,
        entry.resource,
        now=now,
        if_match=entry.if_match,
        create_only=entry.method == "POST",
        rows=entry.rows,
    )


def _transaction(
    service: FHIRService, raw_entries: list[Any], *, base: str, representation: bool
) -> list[dict[str, Any]]:
    entries: list[_Entry] = []
    mapping: dict[str, str] = {}
    identities: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(raw_entries):
        try:
            entry = _parse_entry(index, raw, base)
            if entry.method != "GET":
                service.definition(entry.resource_type)
            if entry.method == "POST":
                entry.resource_id = str(uuid.uuid4())
            if entry.method in ("POST", "PUT") and entry.resource is not None:
                body_id = entry.resource.get("id")
                if entry.method == "PUT" and body_id is not None and body_id != entry.resource_id:
                    raise InvalidRequest(
                        f"resource.id {body_id!r} does not match request.url {entry.resource_id!r}"
                    )
        except FHIRServerError as exc:
            raise _fail(index, exc) from None
        if entry.method != "GET" and entry.resource_id is not None:
            identity = (entry.resource_type, entry.resource_id)
            if identity in identities:
                raise _fail(
                    index,
                    VersionConflict(
                        f"{identity[0]}/{identity[1]} is also written by entry "
                        f"{identities[identity]}",
                        status=400,
                    ),
                )
            identities[identity] = index
            if entry.full_url is not None:
                mapping[entry.full_url] = f"{entry.resource_type}/{entry.resource_id}"
        entries.append(entry)
    for entry in entries:
        if entry.resource is None:
            continue
        try:
            entry.resource = service.prepare(entry.resource_type, entry.resource)
            assert entry.resource_id is not None
            # Indexing (which also rewrites urn:uuid references) runs before the write lock.
            entry.rows = service.index(
                entry.resource_type, entry.resource_id, entry.resource, rewrite=mapping
            )
        except FHIRServerError as exc:
            raise _fail(entry.index, exc) from None

    responses: list[dict[str, Any] | None] = [None] * len(entries)
    now = round(time.time(), 3)
    with service.store.write() as batch:
        batch.prefetch(
            [
                (e.resource_type, e.resource_id)
                for e in entries
                if e.method in ("PUT", "DELETE") and e.resource_id is not None
            ]
        )
        for entry in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
            try:
                if entry.method == "GET":
                    batch.flush()
                    responses[entry.index] = _get(service, entry, base=base, conn=batch.conn)
                else:
                    written = _apply(service, batch, entry, now=now)
                    responses[entry.index] = _response_entry(
                        written, base, representation=representation
                    )
            except FHIRServerError as exc:
                raise _fail(entry.index, exc) from None
    return [r for r in responses if r is not None]


def _batch(
    service: FHIRService, raw_entries: list[Any], *, base: str, representation: bool
) -> list[dict[str, Any]]:
    responses: list[dict[str, Any]] = []
    now = round(time.time(), 3)
    with service.store.write() as batch:
        for index, raw in enumerate(raw_entries):
            batch.conn.execute("SAVEPOINT entry")
            try:
                entry = _parse_entry(index, raw, base)
                if entry.method == "GET":
                    batch.flush()
                    responses.append(_get(service, entry, base=base, conn=batch.conn))
                else:
                    if entry.method == "POST":
                        entry.resource_id = str(uuid.uuid4())
                    if entry.resource is not None:
                        body_id = entry.resource.get("id")
                        if entry.method == "PUT" and body_id not in (None, entry.resource_id):
                            raise InvalidRequest(
                                f"resource.id {body_id!r} does not match request.url "
                                f"{entry.resource_id!r}"
                            )
                        entry.resource = service.prepare(entry.resource_type, entry.resource)
                    written = _apply(service, batch, entry, now=now)
                    batch.flush()
                    responses.append(_response_entry(written, base, representation=representation))
                batch.conn.execute("RELEASE entry")
            except FHIRServerError as exc:
                batch.discard()
                batch.conn.execute("ROLLBACK TO entry")
                batch.conn.execute("RELEASE entry")
                responses.append(
                    {
                        "response": {
                            "status": _STATUS_TEXT.get(exc.status, str(exc.status)),
                            "outcome": exc.outcome(),
                        }
                    }
                )
    return responses

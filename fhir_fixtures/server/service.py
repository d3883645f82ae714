"""The FHIR interactions, independent of HTTP.

Read, create, update, delete, search and ``$everything`` live here; bundles are processed in
:mod:`fhir_fixtures.server.transactions`.

Every method either returns a :class:`Result` or raises a
:class:`~fhir_fixtures.server.errors.FHIRServerError`.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import orjson

from fhir_fixtures.server.bundles import entry_bytes, page_links, searchset_bytes, subset_resource
from fhir_fixtures.server.errors import (
    InvalidRequest,
    ResourceGone,
    ResourceNotFound,
    VersionConflict,
    operation_outcome,
)
from fhir_fixtures.server.indexing import IndexRows, index_resource
from fhir_fixtures.server.search import (
    DEFAULT_COUNT,
    MAX_COUNT,
    MAX_INCLUDES,
    CompiledSearch,
    compile_search,
    split_values,
)
from fhir_fixtures.server.search_params import (
    COMPARTMENT_REFERENCED_TYPES,
    RESOURCE_TYPES,
    ResourceDef,
)
from fhir_fixtures.server.store import Store, StoredResource, WriteBatch, fetch_resource
from fhir_fixtures.server.validation import check_id, check_shape, validate_model
from fhir_fixtures.server.values import format_instant, parse_date_range

__all__ = ["FHIRService", "Result", "WriteResult", "parse_if_match"]

FHIR_JSON = "application/fhir+json"


@dataclass
class Result:
    """What an interaction answers: status, JSON body bytes (or None) and headers."""

    status: int
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write inside a write transaction."""

    status: int
    resource_type: str
    resource_id: str
    version: int
    last_updated: float
    body: bytes | None

    def headers(self, base: str) -> dict[str, str]:
        """ETag, Location and Last-Modified of the written version."""
        headers = {
            "ETag": f'W/"{self.version}"',
            "Last-Modified": formatdate(self.last_updated, usegmt=True),
        }
        if self.status in (200, 201):
            headers["Location"] = (
                f"{base}/{self.resource_type}/{self.resource_id}/_history/{self.version}"
            )
        return headers


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header (``W/"3"``) requires, or None.

    Raises:
        InvalidRequest: the header is not a version ETag.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(f'If-Match must be a version ETag like W/"3", got {value!r}') from None


def _now() -> float:
    # Millisecond resolution, because meta.lastUpdated carries milliseconds and
    # _lastUpdated search must agree with what clients see.
    return round(time.time(), 3)


class FHIRService:
    """FHIR interactions over one :class:`Store`."""

    def __init__(self, store: Store, *, validate: bool = True) -> None:
        self.store = store
        self.validate = validate
        self.types = RESOURCE_TYPES

    # --- helpers ---------------------------------------------------------------------

    def definition(self, resource_type: str) -> ResourceDef:
        """The stored type's definition.

        Raises:
            ResourceNotFound: the server does not support the type.
        """
        definition = self.types.get(resource_type)
        if definition is None:
            raise ResourceNotFound(f"resource type {resource_type!r} is not supported")
        return definition

    @contextmanager
    def _reading(self, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        if conn is not None:
            yield conn
            return
        with self.store.read() as fresh:
            yield fresh

    def prepare(self, resource_type: str, resource: Any) -> dict[str, Any]:
        """Check an incoming resource's shape and, if enabled, validate it."""
        self.definition(resource_type)
        checked = check_shape(resource, resource_type)
        if self.validate:
            validate_model(checked)
        return checked

    def index(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        rewrite: dict[str, str] | None = None,
    ) -> IndexRows:
        """Set the resource's id and compute its index rows.

        ``rewrite`` maps a transaction's fullUrls to ``Type/id``; matching references are
        replaced in the same walk.
        """
        resource["id"] = resource_id
        try:
            return index_resource(resource, self.definition(resource_type), rewrite=rewrite)
        except RecursionError:
            raise InvalidRequest(f"{resource_type} nests too deeply to be indexed") from None

    # --- reads -----------------------------------------------------------------------

    def read(
        self, resource_type: str, resource_id: str, *, conn: sqlite3.Connection | None = None
    ) -> StoredResource:
        """The current version of a resource.

        Raises:
            ResourceNotFound: unknown type or id.
            ResourceGone: the resource was deleted.
        """
        self.definition(resource_type)
        check_id(resource_id)
        if conn is None:
            stored = self.store.get(resource_type, resource_id)
        else:
            stored = fetch_resource(conn, resource_type, resource_id)
        if stored is None:
            raise ResourceNotFound(f"{resource_type}/{resource_id} is not known")
        if stored.deleted:
            raise ResourceGone(f"{resource_type}/{resource_id} was deleted")
        return stored

    # --- writes (inside a WriteBatch) --------------------------------------------------

    def write(
        self,
        batch: WriteBatch,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        now: float,
        if_match: int | None = None,
        create_only: bool = False,
        rows: IndexRows | None = None,
    ) -> WriteResult:
        """Create or update ``resource_type/resource_id`` with a prepared resource.

        ``rows`` are its index rows from :meth:`index`, computed before the write lock is
        taken so that indexing one bundle overlaps with another's SQLite work.
        """
        existing = batch.current(resource_type, resource_id)
        if create_only and existing is not None:
            raise VersionConflict(f"{resource_type}/{resource_id} already exists")
        if if_match is not None:
            current = existing.version if existing is not None and not existing.deleted else None
            if current != if_match:
                raise VersionConflict(
                    f"{resource_type}/{resource_id} is at version {current}, not {if_match}",
                    status=412,
                )
        version = 1 if existing is None else existing.version + 1
        resource["id"] = resource_id
        meta = resource.get("meta")
        meta = dict(meta) if isinstance(meta, dict) else {}
        meta["versionId"] = str(version)
        meta["lastUpdated"] = format_instant(now)
        resource["meta"] = meta
        if rows is None:
            rows = self.index(resource_type, resource_id, resource)
        body = orjson.dumps(resource)
        batch.save(
            resource_type,
            resource_id,
            version=version,
            last_updated=now,
            body=body,
            rows=rows,
            existing=existing,
        )
        status = 201 if existing is None or existing.deleted else 200
        return WriteResult(status, resource_type, resource_id, version, now, body)

    def remove(
        self,
        batch: WriteBatch,
        resource_type: str,
        resource_id: str,
        *,
        now: float,
        if_match: int | None = None,
    ) -> WriteResult:
        """Delete a resource (idempotent for already deleted ones).

        Raises:
            ResourceNotFound: it never existed.
            VersionConflict: ``If-Match`` names another version (412).
        """
        self.definition(resource_type)
        existing = batch.current(resource_type, resource_id)
        if existing is None:
            raise ResourceNotFound(f"{resource_type}/{resource_id} is not known")
        if if_match is not None and (existing.deleted or existing.version != if_match):
            raise VersionConflict(
                f"{resource_type}/{resource_id} is at version {existing.version}, not {if_match}",
                status=412,
            )
        if existing.deleted:
            return WriteResult(
                204, resource_type, resource_id, existing.version, existing.last_updated, None
            )
        version = existing.version + 1
        batch.delete(existing, version=version, last_updated=now)
        return WriteResult(204, resource_type, resource_id, version, now, None)

    # --- single interactions ---------------------------------------------------------

    def create(self, resource_type: str, resource: Any, *, base: str) -> Result:
        """POST: store with a server-assigned id (any id in the body is replaced)."""
        prepared = self.prepare(resource_type, resource)
        new_id = str(uuid.uuid4())
        rows = self.index(resource_type, new_id, prepared)
        with self.store.write() as batch:
            written = self.write(
                batch, resource_type, new_id, prepared, now=_now(), create_only=True, rows=rows
            )
        return Result(201, written.body, written.headers(base))

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: Any,
        *,
        base: str,
        if_match: int | None = None,
    ) -> Result:
        """PUT: update, or create with the client's id."""
        check_id(resource_id)
        prepared = self.prepare(resource_type, resource)
        body_id = prepared.get("id")
        if body_id is not None and body_id != resource_id:
            raise InvalidRequest(
                f"the body's id {body_id!r} does not match the URL's id {resource_id!r}",
                expression="id",
            )
        rows = self.index(resource_type, resource_id, prepared)
        with self.store.write() as batch:
            written = self.write(
                batch,
                resource_type,
                resource_id,
                prepared,
                now=_now(),
                if_match=if_match,
                rows=rows,
            )
        return Result(written.status, written.body, written.headers(base))

    def delete(
        self, resource_type: str, resource_id: str, *, if_match: int | None = None
    ) -> Result:
        """DELETE: later reads answer 410 Gone."""
        check_id(resource_id)
        with self.store.write() as batch:
            written = self.remove(batch, resource_type, resource_id, now=_now(), if_match=if_match)
        outcome = operation_outcome(
            f"{resource_type}/{resource_id} deleted", code="informational", severity="information"
        )
        return Result(200, orjson.dumps(outcome), {"ETag": f'W/"{written.version}"'})

    # --- search ----------------------------------------------------------------------

    def search(
        self,
        resource_type: str,
        params: Sequence[tuple[str, str]],
        *,
        base: str,
        strict: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> bytes:
        """A searchset Bundle for ``resource_type?params``."""
        definition = self.definition(resource_type)
        compiled = compile_search(definition, params, strict=strict, types=self.types)
        where = " AND ".join(["r.type=?", "r.deleted=0", *compiled.where])
        args: list[Any] = [resource_type, *compiled.args]
        order_by = compiled.order_by
        if any(clause.startswith("r.patient") for clause in compiled.where):
            # One patient's rows come from the patient index; letting SQLite read an index in
            # ORDER BY order instead would scan every row of the type (all patients).
            order_by = ", ".join(f"+{term}" for term in order_by.split(", "))
        with self._reading(conn) as db:
            total: int | None = None
            if compiled.summary == "count" or compiled.total_mode == "accurate":
                total = db.execute(
                    f"SELECT COUNT(*) FROM resources r WHERE {where}", args
                ).fetchone()[0]
            page: list[tuple[int, str, bytes]] = []
            has_more = False
            if compiled.summary != "count" and compiled.count > 0:
                keys = db.execute(
                    f"SELECT r.rid, r.id FROM resources r WHERE {where} "
                    f"ORDER BY {order_by} LIMIT ? OFFSET ?",
                    [*args, *compiled.order_args, compiled.count + 1, compiled.offset],
                ).fetchall()
                has_more = len(keys) > compiled.count
                keys = keys[: compiled.count]
                bodies = self.store.bodies(db, [rid for rid, _ in keys])
                page = [(rid, rid_id, bodies[rid]) for rid, rid_id in keys if rid in bodies]
            entries = [
                self._match_entry(base, resource_type, rid_id, body, compiled)
                for _, rid_id, body in page
            ]
            entries.extend(self._included(db, base, compiled, page))
        if compiled.ignored:
            entries.append(_outcome_entry(compiled.ignored))
        links = page_links(
            f"{base}/{resource_type}",
            compiled.used,
            count=compiled.count,
            offset=compiled.offset,
            has_more=has_more if compiled.summary != "count" else False,
        )
        return searchset_bytes(
            total=total, links=links, entries=entries, last_updated=format_instant(time.time())
        )

    @staticmethod
    def _match_entry(
        base: str, resource_type: str, resource_id: str, body: bytes, compiled: CompiledSearch
    ) -> bytes:
        if compiled.elements or compiled.summary == "data":
            body = subset_resource(
                body, elements=compiled.elements, drop_text=compiled.summary == "data"
            )
        return entry_bytes(base, resource_type, resource_id, body)

    def _included(
        self,
        db: sqlite3.Connection,
        base: str,
        compiled: CompiledSearch,
        page: Sequence[tuple[int, str, bytes]],
    ) -> list[bytes]:
        if not page or not (compiled.includes or compiled.revincludes):
            return []
        seen = {(compiled.resource_type, rid_id) for _, rid_id, _ in page}
        rids = [rid for rid, _, _ in page]
        rid_marks = ",".join("?" * len(rids))
        targets: list[tuple[str, str]] = []
        for paths, target_type in compiled.includes:
            sql = f"SELECT DISTINCT f.ttype, f.tid FROM refs f WHERE f.rid IN ({rid_marks})"
            args: list[Any] = list(rids)
            if paths:
                sql += f" AND f.path IN ({','.join('?' * len(paths))})"
                args.extend(paths)
            if target_type is not None:
                sql += " AND f.ttype=?"
                args.append(target_type)
            sql += " AND f.ttype != '' LIMIT ?"
            args.append(MAX_INCLUDES)
            targets.extend(db.execute(sql, args).fetchall())
        entries: list[bytes] = []
        for target_type, target_id in targets:
            if (target_type, target_id) in seen or len(entries) >= MAX_INCLUDES:
                continue
            seen.add((target_type, target_id))
            stored = fetch_resource(db, target_type, target_id)
            if stored is not None and stored.body is not None:
                entries.append(entry_bytes(base, target_type, target_id, stored.body, "include"))
        ids = [rid_id for _, rid_id, _ in page]
        id_marks = ",".join("?" * len(ids))
        for source_type, paths in compiled.revincludes:
            rows = db.execute(
                "SELECT DISTINCT r.id, b.body FROM refs f JOIN resources r ON r.rid=f.rid "
                "JOIN bodies b ON b.rid=r.rid "
                f"WHERE f.tid IN ({id_marks}) AND f.ttype=? "
                f"AND f.path IN ({','.join('?' * len(paths))}) AND r.type=? AND r.deleted=0 "
                "ORDER BY r.id LIMIT ?",
                [*ids, compiled.resource_type, *paths, source_type, MAX_INCLUDES],
            ).fetchall()
            for rid_id, body in rows:
                if (source_type, rid_id) in seen or len(entries) >= MAX_INCLUDES:
                    continue
                seen.add((source_type, rid_id))
                entries.append(entry_bytes(base, source_type, rid_id, body, "include"))
        return entries

    # --- $everything -----------------------------------------------------------------

    def everything(
        self,
        patient_id: str,
        params: Sequence[tuple[str, str]],
        *,
        base: str,
        strict: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> bytes:
        """``Patient/{id}/$everything``: the patient, its compartment, and what it references.

        The compartment is every resource whose patient reference (subject, patient,
        beneficiary...) points at the patient; referenced Organization, Practitioner,
        PractitionerRole, Location and Medication resources are added. Ordered Patient first,
        then by type and id; paged with ``_count``/``_offset``; ``_type`` and ``_since``
        filter.
        """
        check_id(patient_id)
        count, offset = DEFAULT_COUNT, 0
        type_filter: set[str] | None = None
        since: float | None = None
        used: list[tuple[str, str]] = []
        ignored: list[str] = []
        for key, value in params:
            if key == "_count":
                count = min(_int_param(key, value), MAX_COUNT)
            elif key == "_offset":
                offset = _int_param(key, value)
            elif key == "_type":
                type_filter = set(split_values(value))
                used.append((key, value))
            elif key == "_since":
                try:
                    since = parse_date_range(value)[0]
                except ValueError as exc:
                    raise InvalidRequest(f"invalid _since: {exc}") from None
                used.append((key, value))
            elif key in ("_format", "_pretty"):
                continue
            elif strict:
                raise InvalidRequest(f"$everything does not support the parameter {key!r}")
            else:
                ignored.append(f"$everything ignored the parameter {key!r}")
        with self._reading(conn) as db:
            patient = db.execute(
                "SELECT rid, deleted FROM resources WHERE type='Patient' AND id=?", (patient_id,)
            ).fetchone()
            if patient is None:
                raise ResourceNotFound(f"Patient/{patient_id} is not known")
            if patient[1]:
                raise ResourceGone(f"Patient/{patient_id} was deleted")
            keys: list[tuple[int, str, str, float]] = list(
                db.execute(
                    "SELECT rid, type, id, lu FROM resources WHERE patient=? AND deleted=0",
                    (patient_id,),
                )
            )
            type_marks = ",".join("?" * len(COMPARTMENT_REFERENCED_TYPES))
            referenced = db.execute(
                "SELECT DISTINCT t.rid, t.type, t.id, t.lu FROM resources c "
                "JOIN refs f ON f.rid=c.rid "
                "JOIN resources t ON t.type=f.ttype AND t.id=f.tid "
                f"WHERE c.patient=? AND c.deleted=0 AND f.ttype IN ({type_marks}) "
                "AND t.deleted=0",
                (patient_id, *COMPARTMENT_REFERENCED_TYPES),
            ).fetchall()
            keys.extend(referenced)
            if type_filter is not None:
                keys = [k for k in keys if k[1] in type_filter]
            if since is not None:
                keys = [k for k in keys if k[3] >= since]
            keys.sort(key=lambda k: (k[1] != "Patient", k[1], k[2]))
            total = len(keys)
            page = keys[offset : offset + count]
            bodies = self.store.bodies(db, [k[0] for k in page])
        entries = [
            entry_bytes(base, rtype, rid_id, bodies[rid])
            for rid, rtype, rid_id, _ in page
            if rid in bodies
        ]
        if ignored:
            entries.append(_outcome_entry(ignored))
        links = page_links(
            f"{base}/Patient/{patient_id}/$everything",
            used,
            count=count,
            offset=offset,
            has_more=offset + count < total,
        )
        return searchset_bytes(
            total=total, links=links, entries=entries, last_updated=format_instant(time.time())
        )


def _int_param(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a non-negative integer, got {value!r}") from None
    if number < 0:
        raise InvalidRequest(f"{name} must be a non-negative integer, got {value!r}")
    return number


def _outcome_entry(messages: Sequence[str]) -> bytes:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "warning", "code": "not-supported", "diagnostics": message}
            for message in messages
        ],
    }
    return b"".join((b'{"resource":', orjson.dumps(outcome), b',"search":{"mode":"outcome"}}'))

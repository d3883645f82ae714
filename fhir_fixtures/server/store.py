"""SQLite storage: current resource versions plus one index table per search parameter kind.

Resources are kept as orjson bytes (current version only; ``meta.versionId`` counts updates).
Writes go through one connection under a lock, one SQLite transaction per interaction or
bundle, so a failed transaction writes nothing. Reads use a connection per thread and run in
a read transaction, so a search's count and its page see the same snapshot (WAL mode lets
them proceed while a bundle is being written).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_fixtures.server.indexing import IndexRows

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "StoredResource",
    "WriteBatch",
    "fetch_resource",
]


class StoreError(RuntimeError):
    """The database cannot be opened or was written by an incompatible schema."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources(
    rid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    lu REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    patient TEXT,
    date_key REAL,
    UNIQUE(type, id)
);
CREATE INDEX IF NOT EXISTS resources_patient ON resources(patient, type, date_key)
    WHERE patient IS NOT NULL;
CREATE INDEX IF NOT EXISTS resources_type_date ON resources(type, date_key);
CREATE INDEX IF NOT EXISTS resources_type_lu ON resources(type, lu);
CREATE TABLE IF NOT EXISTS bodies(rid INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
    rid INTEGER NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY(rid, param, code, system)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_value ON tokens(param, code, system);
CREATE TABLE IF NOT EXISTS strings(
    rid INTEGER NOT NULL, param TEXT NOT NULL, norm TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY(rid, param, norm, value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS strings_value ON strings(param, norm);
CREATE TABLE IF NOT EXISTS dates(
    rid INTEGER NOT NULL, param TEXT NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY(rid, param, lo, hi)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dates_value ON dates(param, lo, hi);
CREATE TABLE IF NOT EXISTS quantities(
    rid INTEGER NOT NULL, param TEXT NOT NULL, value REAL NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL,
    PRIMARY KEY(rid, param, value, system, code, unit)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quantities_value ON quantities(param, value);
CREATE TABLE IF NOT EXISTS refs(
    rid INTEGER NOT NULL, path TEXT NOT NULL, ttype TEXT NOT NULL, tid TEXT NOT NULL,
    PRIMARY KEY(rid, path, ttype, tid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_target ON refs(tid, ttype, path);
"""

SCHEMA_VERSION = 1

_INDEX_TABLES = ("tokens", "strings", "dates", "quantities", "refs")
_ROW_SQL = (
    "SELECT r.rid, r.version, r.lu, r.deleted, b.body FROM resources r "
    "LEFT JOIN bodies b ON b.rid=r.rid WHERE r.type=? AND r.id=?"
)


@dataclass(frozen=True)
class StoredResource:
    """The current row of one resource (``body`` is None once deleted, or when not loaded)."""

    rid: int
    type: str
    id: str
    version: int
    last_updated: float
    deleted: bool
    body: bytes | None


def fetch_resource(
    conn: sqlite3.Connection, resource_type: str, resource_id: str
) -> StoredResource | None:
    """The current row of one resource with its body, or None."""
    row = conn.execute(_ROW_SQL, (resource_type, resource_id)).fetchone()
    if row is None:
        return None
    return StoredResource(row[0], resource_type, resource_id, row[1], row[2], bool(row[3]), row[4])


class WriteBatch:
    """Writes of one SQLite transaction, queued and flushed with ``executemany``.

    Row ids of new resources are assigned here (the write lock makes that safe), so a
    bundle of a thousand resources costs a handful of statements. ``current`` answers from
    what this batch wrote before asking the database.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._known: dict[tuple[str, str], StoredResource | None] = {}
        self._next_rid: int | None = None
        self._inserts: list[tuple[Any, ...]] = []
        self._updates: list[tuple[Any, ...]] = []
        self._bodies: list[tuple[int, bytes]] = []
        self._dropped_bodies: list[tuple[int]] = []
        self._clear: list[tuple[int]] = []
        self._index: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _INDEX_TABLES}

    def prefetch(self, keys: Sequence[tuple[str, str]]) -> None:
        """Look up many ``(type, id)`` at once before writing them."""
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            if (resource_type, resource_id) not in self._known:
                by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for resource_id in chunk:
                    self._known[(resource_type, resource_id)] = None
                marks = ",".join("?" * len(chunk))
                for rid, resource_id, version, lu, deleted in self.conn.execute(
                    "SELECT rid, id, version, lu, deleted FROM resources "
                    f"WHERE type=? AND id IN ({marks})",
                    [resource_type, *chunk],
                ):
                    self._known[(resource_type, resource_id)] = StoredResource(
                        rid, resource_type, resource_id, version, lu, bool(deleted), None
                    )

    def current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """The row as this transaction sees it (without the body)."""
        key = (resource_type, resource_id)
        if key not in self._known:
            self.prefetch([key])
        return self._known[key]

    def _new_rid(self) -> int:
        if self._next_rid is None:
            self._next_rid = self.conn.execute(
                "SELECT COALESCE(MAX(rid), 0) FROM resources"
            ).fetchone()[0]
        assert self._next_rid is not None
        self._next_rid += 1
        return self._next_rid

    def save(
        self,
        resource_type: str,
        resource_id: str,
        *,
        version: int,
        last_updated: float,
        body: bytes,
        rows: IndexRows,
        existing: StoredResource | None,
    ) -> int:
        """Insert or replace the current version of a resource and queue its index rows."""
        if existing is None:
            rid = self._new_rid()
            self._inserts.append(
                (
                    rid,
                    resource_type,
                    resource_id,
                    version,
                    last_updated,
                    rows.patient,
                    rows.date_key,
                )
            )
        else:
            rid = existing.rid
            self._updates.append((version, last_updated, rows.patient, rows.date_key, rid))
            if not existing.deleted:
                self._clear.append((rid,))
        self._known[(resource_type, resource_id)] = StoredResource(
            rid, resource_type, resource_id, version, last_updated, False, None
        )
        self._bodies.append((rid, body))
        prefix = resource_type + "."
        index = self._index
        index["tokens"].extend((rid, prefix + p, s, c) for p, s, c in rows.tokens)
        index["strings"].extend((rid, prefix + p, n, v) for p, n, v in rows.strings)
        index["dates"].extend((rid, prefix + p, lo, hi) for p, lo, hi in rows.dates)
        index["quantities"].extend(
            (rid, prefix + p, v, s, c, u) for p, v, s, c, u in rows.quantities
        )
        index["refs"].extend((rid, path, t, i) for path, t, i in rows.references)
        return rid

    def delete(self, existing: StoredResource, *, version: int, last_updated: float) -> None:
        """Mark a resource deleted (a later read answers 410) and drop its index rows."""
        self.flush()
        self.conn.execute(
            "UPDATE resources SET version=?, lu=?, deleted=1, patient=NULL, date_key=NULL "
            "WHERE rid=?",
            (version, last_updated, existing.rid),
        )
        self._dropped_bodies.append((existing.rid,))
        self._clear.append((existing.rid,))
        self._known[(existing.type, existing.id)] = StoredResource(
            existing.rid, existing.type, existing.id, version, last_updated, True, None
        )

    def discard(self) -> None:
        """Forget everything queued (the caller rolls back to a savepoint)."""
        self._known.clear()
        self._next_rid = None
        for queue in (self._inserts, self._updates, self._bodies, self._dropped_bodies):
            queue.clear()
        self._clear.clear()
        for rows in self._index.values():
            rows.clear()

    def flush(self) -> None:
        """Write everything queued (stale index rows of updated resources go first)."""
        conn = self.conn
        if self._clear:
            for table in _INDEX_TABLES:
                conn.executemany(f"DELETE FROM {table} WHERE rid=?", self._clear)
            self._clear.clear()
        if self._dropped_bodies:
            conn.executemany("DELETE FROM bodies WHERE rid=?", self._dropped_bodies)
            self._dropped_bodies.clear()
        if self._inserts:
            conn.executemany(
                "INSERT INTO resources(rid, type, id, version, lu, deleted, patient, date_key) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                self._inserts,
            )
            self._inserts.clear()
        if self._updates:
            conn.executemany(
                "UPDATE resources SET version=?, lu=?, deleted=0, patient=?, date_key=? "
                "WHERE rid=?",
                self._updates,
            )
            self._updates.clear()
        if self._bodies:
            conn.executemany("INSERT OR REPLACE INTO bodies(rid, body) VALUES (?, ?)", self._bodies)
            self._bodies.clear()
        for table, rows in self._index.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
                rows.clear()


class Store:
    """The SQLite database behind one server."""

    def __init__(self, db_path: str | Path) -> None:
        """Open (creating if needed) the database at ``db_path``.

        Raises:
            StoreError: it cannot be opened, or holds an incompatible schema.
        """
        self.path = Path(db_path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.path.parent}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect(cache_kib=65536)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def _migrate(self) -> None:
        conn = self._writer
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='resources'"
        ).fetchone()
        if version == SCHEMA_VERSION:
            return
        if version != 0 or has_tables:
            raise StoreError(
                f"{self.path} was written by an incompatible version of this server (schema "
                f"{version}, expected {SCHEMA_VERSION}): delete it and load the data again"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _connect(self, cache_kib: int = 16384) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the FHIR database {self.path}: {exc}") from exc
        conn.execute("PRAGMA synchronous=NORMAL")
        # Each reader thread has its own connection, so its page cache stays modest; the
        # memory map is shared by all of them.
        conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA temp_store=MEMORY")
        # Fewer, larger checkpoints: each one fsyncs, and bulk loads write tens of MB.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the store is closed")
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (a consistent snapshot)."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[WriteBatch]:
        """One write transaction: committed when the block exits normally, else rolled back."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            batch = WriteBatch(conn)
            try:
                yield batch
                batch.flush()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def get(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """The current row of one resource, or None if it never existed."""
        return fetch_resource(self._reader(), resource_type, resource_id)

    @staticmethod
    def bodies(conn: sqlite3.Connection, rids: Sequence[int]) -> dict[int, bytes]:
        """``rid -> body`` for live resources among ``rids``."""
        found: dict[int, bytes] = {}
        for start in range(0, len(rids), 500):
            chunk = rids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, body in conn.execute(
                f"SELECT rid, body FROM bodies WHERE rid IN ({marks})", chunk
            ):
                found[rid] = body
        return found

    def analyze(self) -> None:
        """Refresh the query planner's statistics (cheap with ``analysis_limit``)."""
        with self._write_lock:
            self._writer.execute("PRAGMA analysis_limit=1000")
            self._writer.execute("PRAGMA optimize")

    def close(self) -> None:
        """Close every connection this store opened."""
        self._closed = True
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

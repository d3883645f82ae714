"""A per-process cache of built record indexes, shared by sessions.

Building a patient's code index costs one search per clinical type and the condensing of
every record: tens to hundreds of milliseconds, repeated for every question when a backend
serves many short conversations about the same patients. The cache keeps the built index
and the reference closure those searches admitted, keyed by everything that decides what
the searches return:

- the FHIR base URL;
- who asked (:meth:`tools.fhir.auth.Auth.identity`: a static or forwarded token counts by
  its hash, so one SMART app's token never serves another's cached result; auth modes
  without an identity are never cached);
- the patient id and the reference date.

Entries expire after ``ttl_s`` seconds (data written to the server shows up after at most
that long) and the least recently used go first beyond ``max_entries``. ``ttl_s=0``
disables caching. Nothing here is written to disk or logged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from tools.record_index import RecordIndex

__all__ = [
    "CachedIndex",
    "IndexCache",
    "IndexKey",
    "shared_index_cache",
]

IndexKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class CachedIndex:
    """A built index and the references its searches admitted to the patient's scope."""

    index: RecordIndex
    closure: frozenset[str]


class IndexCache:
    """LRU with a time to live; safe across threads and event loops."""

    def __init__(self, *, ttl_s: float = 120.0, max_entries: int = 256) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError("ttl_s must be >= 0 and max_entries >= 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[IndexKey, tuple[float, CachedIndex]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(base_url: str, identity: str | None, patient_id: str, as_of: date) -> IndexKey | None:
        """The cache key, or None when the caller's identity is unknown (never cached)."""
        if identity is None:
            return None
        return (base_url, identity, patient_id, as_of.isoformat())

    def get(self, key: IndexKey | None) -> CachedIndex | None:
        """The live entry for ``key``, if any."""
        if key is None or self.ttl_s == 0:
            return None
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is None or now - found[0] > self.ttl_s:
                if found is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: IndexKey | None, value: CachedIndex) -> None:
        """Store ``value`` (evicting the least recently used beyond the bound)."""
        if key is None or self.ttl_s == 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_SHARED: dict[float, IndexCache] = {}
_SHARED_LOCK = threading.Lock()


def shared_index_cache(ttl_s: float) -> IndexCache | None:
    """The process-wide cache for this lifetime (None when ``ttl_s`` is 0: no caching)."""
    if ttl_s <= 0:
        return None
    with _SHARED_LOCK:
        cache = _SHARED.get(ttl_s)
        if cache is None:
            cache = _SHARED[ttl_s] = IndexCache(ttl_s=ttl_s)
        return cache

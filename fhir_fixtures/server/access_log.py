"""A record of every request the server answered, for tests and the ``--access-log`` flag.

Only the method, path, query string, status and latency are kept: never bodies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog", "AccessLogEntry", "AccessLogMiddleware"]

_LOG = logging.getLogger("fhir_fixtures.server.access")


@dataclass(frozen=True)
class AccessLogEntry:
    """One answered request."""

    method: str
    path: str
    query: str
    status: int
    seconds: float


class AccessLog:
    """Thread-safe list of :class:`AccessLogEntry`; iterate for a snapshot.

    Args:
        emit: also log one line per request (method, path, status, latency; no query string,
            which may carry search values) through the ``fhir_fixtures.server.access`` logger.
    """

    def __init__(self, *, emit: bool = False) -> None:
        self._entries: list[AccessLogEntry] = []
        self._lock = threading.Lock()
        self._emit = emit

    def record(self, entry: AccessLogEntry) -> None:
        """Append one entry."""
        with self._lock:
            self._entries.append(entry)
        if self._emit:
            _LOG.info(
                "%s %s %d %.1f ms", entry.method, entry.path, entry.status, entry.seconds * 1000
            )

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    @property
    def entries(self) -> list[AccessLogEntry]:
        """A snapshot of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[AccessLogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class AccessLogMiddleware:
    """Pure ASGI middleware that records every HTTP request in an :class:`AccessLog`."""

    def __init__(self, app: ASGIApp, log: AccessLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and record it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            query: Any = scope.get("query_string", b"")
            self.log.record(
                AccessLogEntry(
                    method=scope["method"],
                    path=scope["path"],
                    query=query.decode("latin-1") if isinstance(query, bytes) else str(query),
                    status=status,
                    seconds=time.perf_counter() - started,
                )
            )

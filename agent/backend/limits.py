"""How much one process takes: request size, per-caller rate, questions in flight.

* :class:`BodySizeLimit` (ASGI middleware): 413 for a body over the limit, whether it
  announces its size (``Content-Length``) or streams it (counted as it arrives).
* :class:`RateLimiter`: one token bucket per caller; 429 with ``Retry-After`` when empty.
* :class:`RunGate`: at most ``max_running`` questions at once and ``max_waiting`` waiting
  for a slot; beyond that, or after waiting ``wait_timeout_s``, 503 with ``Retry-After``.

All three are per process: behind a load balancer each replica enforces its own share.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.backend.errors import RateLimited, Unavailable, error_payload

__all__ = ["BodySizeLimit", "BodyTooLarge", "RateLimiter", "RunGate"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (rendered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 and a JSON error body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call, refusing or counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_payload(
                "payload_too_large", f"the request body is larger than {self.max_bytes} bytes"
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per caller key: ``burst`` at once, then ``per_minute`` sustained.

    Args:
        per_minute: Sustained rate; 0 turns limiting off.
        burst: Bucket size.
        clock: Monotonic seconds (injectable for tests).
        max_keys: Buckets kept; the least recently used are forgotten (a forgotten caller
            starts again with a full bucket).
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, key: str) -> None:
        """Take one token for ``key``.

        Raises:
            RateLimited: The bucket is empty; ``Retry-After`` says when a token is back.
        """
        if self.rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / self.rate
            raise RateLimited(
                f"rate limit exceeded: at most {self.rate * 60:g} requests a minute "
                f"(bursts of {self.burst:g}); retry in {wait:.1f} s",
                retry_after_s=wait,
            )
        bucket.tokens -= 1.0


class RunGate:
    """Bounds questions in flight; refuses (503) rather than queueing without end.

    Args:
        max_running: Questions answered at once.
        max_waiting: Questions allowed to wait for a slot.
        wait_timeout_s: Longest wait for a slot.
    """

    def __init__(self, max_running: int, max_waiting: int, wait_timeout_s: float) -> None:
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.wait_timeout_s = wait_timeout_s
        self._semaphore = asyncio.Semaphore(max_running)
        self._running = 0
        self._waiting = 0
        # Typical time a question holds a slot, to suggest a useful Retry-After.
        self._typical_s = 1.0

    @property
    def running(self) -> int:
        """Questions holding a slot."""
        return self._running

    @property
    def waiting(self) -> int:
        """Questions waiting for one."""
        return self._waiting

    def _overloaded(self, message: str) -> Unavailable:
        # The queue ahead drains at about max_running questions per typical duration.
        backlog = (self._waiting + 1) / self.max_running
        return Unavailable(message, code="overloaded", retry_after_s=self._typical_s * backlog)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block.

        Raises:
            Unavailable: ``overloaded``: the wait queue is full, or no slot came free in
                ``wait_timeout_s``.
        """
        if self._semaphore.locked() and self._waiting >= self.max_waiting:
            raise self._overloaded(
                f"the server is answering {self._running} questions and {self._waiting} are "
                "waiting; try again shortly"
            )
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait_timeout_s):
                await self._semaphore.acquire()
        except TimeoutError:
            raise self._overloaded(
                f"no capacity became free within {self.wait_timeout_s:g} s; try again shortly"
            ) from None
        finally:
            self._waiting -= 1
        self._running += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self._running -= 1
            self._semaphore.release()
            self._typical_s = 0.8 * self._typical_s + 0.2 * (time.monotonic() - started)

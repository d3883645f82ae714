"""Usage accounting: what each HTTP request cost, per client and per caller's context.

Every attempt the client makes (first tries, retries, token requests) becomes one
:class:`RequestEvent`. Events feed the client's cumulative :class:`ClientStats`, an optional
hook, and every :func:`track_requests` block active in the current context, which is how the
agent reports ``fhir_requests`` for one question even when clients are shared::

    with track_requests() as usage:
        await answer(question)          # tasks started in here are counted too
    usage.snapshot().requests
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields

__all__ = ["ClientStats", "RequestEvent", "RequestHook", "StatsSnapshot", "track_requests"]


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One HTTP attempt, as seen by hooks.

    ``url`` is the full URL including the query, which may carry patient ids: hooks run
    in-process and must not write it to logs; ``path`` and ``param_names`` are safe to log.
    """

    method: str
    url: str
    path: str
    param_names: tuple[str, ...]
    interaction: str
    resource_type: str | None
    status: int | None
    elapsed_s: float
    attempt: int
    bytes_sent: int
    bytes_received: int
    error: str | None = None

    @property
    def is_retry(self) -> bool:
        """Whether this attempt re-sent a request that had already been tried."""
        return self.attempt > 1

    @property
    def is_token_request(self) -> bool:
        """Whether this was a request to the OAuth token endpoint rather than the FHIR server."""
        return self.interaction == "token"


RequestHook = Callable[[RequestEvent], None]
"""Called synchronously after every attempt; it must be quick and must not raise."""


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Counters at one moment; subtract two snapshots to get the usage in between.

    Attributes:
        requests: HTTP requests sent to the FHIR server (every attempt, retries included).
        retries: attempts that re-sent an earlier request (also counted in ``requests``
            or ``token_requests``).
        failures: attempts that ended in a transport error or an HTTP status >= 400.
        token_requests: requests to the OAuth token endpoint.
        bytes_sent: request body bytes.
        bytes_received: response body bytes (after content decoding).
        latency_s: summed wall time of all attempts.
    """

    requests: int = 0
    retries: int = 0
    failures: int = 0
    token_requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    latency_s: float = 0.0

    def __sub__(self, other: StatsSnapshot) -> StatsSnapshot:
        return StatsSnapshot(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )

    def as_dict(self) -> dict[str, float | int]:
        """The counters as a plain dict (for ``--json`` output)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ClientStats:
    """Mutable counters fed by request events; read them through :meth:`snapshot`."""

    def __init__(self) -> None:
        self._current = StatsSnapshot()

    def record(self, event: RequestEvent) -> None:
        """Add one attempt to the counters."""
        s = self._current
        token = event.is_token_request
        failed = event.error is not None or (event.status is not None and event.status >= 400)
        self._current = StatsSnapshot(
            requests=s.requests + (0 if token else 1),
            retries=s.retries + (1 if event.is_retry else 0),
            failures=s.failures + (1 if failed else 0),
            token_requests=s.token_requests + (1 if token else 0),
            bytes_sent=s.bytes_sent + event.bytes_sent,
            bytes_received=s.bytes_received + event.bytes_received,
            latency_s=s.latency_s + event.elapsed_s,
        )

    def snapshot(self) -> StatsSnapshot:
        """The counters now (an immutable copy)."""
        return self._current

    def reset(self) -> StatsSnapshot:
        """Zero the counters and return what they held."""
        previous, self._current = self._current, StatsSnapshot()
        return previous

    @property
    def requests(self) -> int:
        """FHIR requests so far (shortcut for ``snapshot().requests``)."""
        return self._current.requests

    def __repr__(self) -> str:
        return f"ClientStats({self._current!r})"


_TRACKERS: ContextVar[tuple[ClientStats, ...]] = ContextVar("ehr_agent_fhir_trackers", default=())


@contextmanager
def track_requests() -> Iterator[ClientStats]:
    """Count the requests of every FHIRClient made in this context and the tasks it starts.

    Blocks nest: an inner block's requests also count in the outer one. Tasks created before
    the block was entered are not counted (they run in their own copy of the context).
    """
    stats = ClientStats()
    reset = _TRACKERS.set((*_TRACKERS.get(), stats))
    try:
        yield stats
    finally:
        _TRACKERS.reset(reset)


def active_trackers() -> tuple[ClientStats, ...]:
    """The :func:`track_requests` counters active in the current context (for the client)."""
    return _TRACKERS.get()

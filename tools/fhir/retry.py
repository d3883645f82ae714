"""When to try a failed request again, and how long to wait first.

The rules, applied by the client to every request:

* Retried statuses are 429, 502, 503 and 504; retried transport failures are connect errors,
  timeouts, dropped connections and incomplete responses. 401 is not a retry: it triggers one
  token refresh (see ``tools.fhir.auth``).
* Only idempotent requests are retried after the request may have reached the server: GET,
  HEAD, PUT, DELETE, POST ``_search``, a conditional create (``If-None-Exist``), and a
  transaction or batch whose entries are all GET/HEAD/PUT/DELETE or conditional creates
  (loading a bundle of PUTs twice leaves the same state). A plain create, a PATCH or an
  operation invoked by POST is retried only when it certainly was not processed: the
  connection was never made, or the server answered 429 (rate limiting rejects a request
  before processing it). A 502/503/504 or a timeout on such a request is reported at once,
  saying the outcome is unknown.
* Waits grow exponentially (``base * 2**n``, capped) with "equal jitter" (half fixed, half
  random), so clients that failed together do not come back together.
* ``Retry-After`` (delta-seconds or an HTTP-date) replaces the computed wait.
* Bounded twice: at most ``max_retries`` retries, and no wait that would end after
  ``budget_s`` seconds since the first attempt. A ``Retry-After`` beyond the remaining
  budget fails immediately with that explanation instead of sleeping.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

__all__ = ["RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (RFC 9110 §10.2.3).

    Args:
        value: the header value: delta-seconds (``"120"``) or an HTTP-date.
        now: current Unix time, for HTTP-dates (default: the system clock).

    Returns:
        Seconds (never negative), or None when the header is absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry limits and backoff shape.

    Attributes:
        max_retries: retries after the first attempt (so at most ``max_retries + 1`` tries).
        budget_s: seconds from the first attempt after which no further wait may end.
        backoff_base_s: the first computed wait (before jitter).
        backoff_max_s: cap on a computed wait (a ``Retry-After`` is not capped by it, only by
            the budget).
    """

    max_retries: int = 4
    budget_s: float = 30.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.budget_s < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("retry durations must be >= 0")

    def backoff(self, retry_index: int, rng: random.Random) -> float:
        """The wait before retry number ``retry_index`` (0 for the first retry)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**retry_index))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def transport_error_is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a failed attempt may be repeated.

    A request that never left (no connection, no pool slot) is always safe to repeat; one
    that may have reached the server is repeated only when it is idempotent.
    """
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    if not idempotent:
        return False
    return isinstance(
        exc,
        httpx.TimeoutException
        | httpx.NetworkError
        | httpx.RemoteProtocolError
        | httpx.ProxyError
        | TimeoutError,
    )


def status_is_retryable(status: int, *, idempotent: bool) -> bool:
    """Whether a response status asks for another try of this request."""
    if status not in RETRY_STATUSES:
        return False
    return idempotent or status == 429

"""The chokepoint: every HTTP request of the FHIR client goes through :meth:`RequestSender.send`.

One request, start to finish: authorise it (``tools.fhir.auth``), send it with a per-attempt
deadline and a response size cap, record every attempt (stats, ``track_requests`` blocks,
hooks, the ``ehr_agent.fhir`` log), retry it under the rules of ``tools.fhir.retry``, re-send
it once after a 401 with a refreshed token, and turn the final failure into the exception
hierarchy of ``tools.fhir.errors`` (:func:`~tools.fhir.errors.error_from_response` for
statuses, the transport mapping below for everything else). Redirects are not followed, so
credentials are only ever sent to URLs the caller chose.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from tools.fhir.auth import Auth, TokenEndpointHost
from tools.fhir.errors import (
    FHIRError,
    FHIRProtocolError,
    FHIRUnavailable,
    describe_url,
    error_from_response,
    request_error,
)
from tools.fhir.retry import (
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
    status_is_retryable,
    transport_error_is_retryable,
)
from tools.fhir.stats import ClientStats, RequestEvent, RequestHook, active_trackers

__all__ = ["FHIR_JSON", "MAX_IN_FLIGHT", "Reply", "RequestSender"]

log = logging.getLogger("ehr_agent.fhir")

FHIR_JSON: Final = "application/fhir+json"
_USER_AGENT = "ehr-agent-fhir-client/0.1"
_DEFAULT_PORTS = {"http": 80, "https": 443}

MAX_IN_FLIGHT: Final = 32
"""Requests one client sends at once; the rest wait for a slot here. Left to httpx's pool,
hundreds of queued requests (an eval at concurrency 64 builds many record indexes at once)
made the pool's bookkeeping, quadratic in the queue, the runner's largest CPU cost."""


def default_port(url: httpx.URL) -> int | None:
    """The port of ``url``, with the scheme's default filled in."""
    return url.port or _DEFAULT_PORTS.get(url.scheme)


@dataclass(frozen=True, slots=True)
class Reply:
    """A final response: status, headers and the whole (decoded) body."""

    method: str
    url: httpx.URL
    status: int
    headers: httpx.Headers
    body: bytes


class _ResponseTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Call:
    """What one logical request is, across its attempts."""

    method: str
    url: httpx.URL
    interaction: str
    resource_type: str | None
    idempotent: bool
    token_endpoint: bool

    def event(
        self,
        status: int | None,
        elapsed_s: float,
        attempt: int,
        body: bytes | None,
        received: int,
        error: BaseException | None = None,
    ) -> RequestEvent:
        path, param_names = describe_url(self.url)
        return RequestEvent(
            method=self.method,
            url=str(self.url),
            path=path,
            param_names=param_names,
            interaction=self.interaction,
            resource_type=self.resource_type,
            status=status,
            elapsed_s=elapsed_s,
            attempt=attempt,
            bytes_sent=len(body or b""),
            bytes_received=received,
            error=type(error).__name__ if error is not None else None,
        )


class RequestSender:
    """Sends requests for one FHIRClient (see the module docstring)."""

    def __init__(
        self,
        *,
        auth: Auth,
        host: TokenEndpointHost,
        timeout: float,
        retry: RetryPolicy,
        max_response_bytes: int,
        transport: httpx.AsyncBaseTransport | None,
        headers: Mapping[str, str] | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        rng: random.Random,
        hooks: list[RequestHook],
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.auth = auth
        self.stats = ClientStats()
        self.hooks = hooks
        self._host = host
        self._timeout = timeout
        self._retry = retry
        self._max_bytes = max_response_bytes
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._owns_transport = transport is None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._http = httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"Accept": FHIR_JSON, "User-Agent": _USER_AGENT, **(headers or {})},
        )

    async def aclose(self) -> None:
        """Close the connection pool, unless the transport belongs to the caller."""
        if self._owns_transport:
            await self._http.aclose()

    def _record(self, event: RequestEvent) -> None:
        self.stats.record(event)
        for tracker in active_trackers():
            tracker.record(event)
        for hook in tuple(self.hooks):
            hook(event)
        log.debug(
            "%s %s %s -> %s in %.0f ms, %d B%s",
            event.method,
            event.interaction,
            event.resource_type or "-",
            event.status if event.status is not None else event.error,
            event.elapsed_s * 1000,
            event.bytes_received,
            f" (attempt {event.attempt})" if event.is_retry else "",
        )

    async def _transmit(
        self, method: str, url: httpx.URL, headers: Mapping[str, str], content: bytes | None
    ) -> tuple[int, httpx.Headers, bytes]:
        async with (
            asyncio.timeout(self._timeout),
            self._http.stream(method, url, headers=headers, content=content) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise _ResponseTooLarge
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    async def _attempt(
        self, call: _Call, attempt: int, headers: Mapping[str, str], body: bytes | None
    ) -> Reply | BaseException:
        """One HTTP exchange, recorded; a transport failure is returned, not raised.

        At most :data:`MAX_IN_FLIGHT` run at once; the wait for a slot is neither timed nor
        recorded as the server's.
        """
        async with self._slots:
            t0 = time.perf_counter()
            try:
                status, reply_headers, data = await self._transmit(
                    call.method, call.url, headers, body
                )
            except (httpx.TransportError, TimeoutError, _ResponseTooLarge) as exc:
                self._record(call.event(None, time.perf_counter() - t0, attempt, body, 0, exc))
                return exc
        self._record(call.event(status, time.perf_counter() - t0, attempt, body, len(data)))
        return Reply(call.method, call.url, status, reply_headers, data)

    def _transport_failure(
        self, call: _Call, exc: BaseException, attempts: int, *, budget_spent: bool = False
    ) -> FHIRError:
        if isinstance(exc, _ResponseTooLarge):
            cls: type[FHIRError] = FHIRProtocolError
            reason = f"response larger than the {self._max_bytes} byte limit"
        elif isinstance(exc, httpx.RemoteProtocolError):
            cls, reason = FHIRProtocolError, f"incomplete or malformed HTTP response ({exc})"
        elif isinstance(exc, httpx.TimeoutException | TimeoutError):
            cls, reason = FHIRUnavailable, f"timed out after {self._timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            where = f"{call.url.host}:{default_port(call.url)}"
            cls, reason = FHIRUnavailable, f"cannot connect to {where} ({exc})"
        else:
            cls, reason = FHIRUnavailable, f"{type(exc).__name__}: {exc}"
        if budget_spent:
            reason += (
                f"; gave up after {attempts} attempts: the retry budget of "
                f"{self._retry.budget_s:g} s is spent"
            )
        elif attempts > 1:
            reason += f"; gave up after {attempts} attempts"
        elif not (
            call.idempotent
            or isinstance(exc, _ResponseTooLarge)
            or transport_error_is_retryable(exc, idempotent=False)
        ):
            reason += "; not retried: the request is not idempotent and may have been applied"
        return request_error(cls, call.method, call.url, reason)

    def _status_error(self, call: _Call, reply: Reply, note: str = "") -> FHIRError:
        return error_from_response(
            call.method,
            call.url,
            reply.status,
            reply.body,
            headers=reply.headers,
            token_endpoint=call.token_endpoint,
            note=note,
        )

    def _retry_delay(
        self,
        call: _Call,
        outcome: Reply | BaseException,
        retries: int,
        started: float,
        attempt: int,
    ) -> float | None:
        """Seconds to wait before retrying, or None when ``outcome`` is final.

        Raises:
            FHIRError: the outcome is retryable but the retries or the time budget are spent,
                or it is a failure that must not be retried.
        """
        if isinstance(outcome, BaseException):
            if (
                not transport_error_is_retryable(outcome, idempotent=call.idempotent)
                or retries >= self._retry.max_retries
            ):
                raise self._transport_failure(call, outcome, attempt) from outcome
            delay = self._retry.backoff(retries, self._rng)
            if self._clock() - started + delay > self._retry.budget_s:
                raise self._transport_failure(
                    call, outcome, attempt, budget_spent=True
                ) from outcome
            return delay
        if not status_is_retryable(outcome.status, idempotent=call.idempotent):
            return None
        if retries >= self._retry.max_retries:
            raise self._status_error(call, outcome, f"gave up after {attempt} attempts")
        retry_after = parse_retry_after(outcome.headers.get("retry-after"))
        delay = retry_after if retry_after is not None else self._retry.backoff(retries, self._rng)
        remaining = self._retry.budget_s - (self._clock() - started)
        if delay <= remaining:
            return delay
        if retry_after is not None:
            note = (
                f"the server asked to retry after {retry_after:.0f} s, beyond the remaining "
                f"retry budget of {max(remaining, 0.0):.1f} s"
            )
        else:
            note = f"retry budget of {self._retry.budget_s:g} s spent after {attempt} attempts"
        raise self._status_error(call, outcome, note)

    def _final(self, call: _Call, reply: Reply, accept_status: frozenset[int]) -> Reply:
        if reply.status < 300 or reply.status in accept_status:
            return reply
        note = ""
        if reply.status in RETRY_STATUSES:
            note = "not retried: the request is not idempotent and may have been applied"
        elif reply.status < 400:
            note = "redirects are not followed, so credentials stay with the base URL"
        raise self._status_error(call, reply, note)

    async def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        interaction: str,
        resource_type: str | None,
        idempotent: bool,
        authenticate: bool = True,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        prepare: Callable[[], tuple[Mapping[str, str], bytes]] | None = None,
        accept_status: frozenset[int] = frozenset(),
        token_endpoint: bool = False,
    ) -> Reply:
        """Send one request with retries; return the final reply or raise its FHIRError.

        Args:
            method: HTTP method.
            url: absolute URL (the caller has checked it belongs to the server).
            interaction: label for logs and events (``read``, ``search-type``, ``token``...).
            resource_type: resource type concerned, for logs and events.
            idempotent: whether the request may be repeated after it may have arrived.
            authenticate: add the ``Authorization`` header from the auth mode.
            headers: request headers (reused for every attempt).
            content: request body (reused for every attempt).
            prepare: builds headers and body afresh for every attempt instead (a token
                request needs a new assertion each time).
            accept_status: error statuses returned to the caller instead of raised.
            token_endpoint: the URL is an OAuth token endpoint (4xx means auth failure).

        Raises:
            FHIRError: the subclass for the final status or transport failure.
        """
        call = _Call(method, url, interaction, resource_type, idempotent, token_endpoint)
        started = self._clock()
        retries = 0
        refreshed = False
        # First attempt + max_retries retries + one re-send after a token refresh.
        for attempt in range(1, self._retry.max_retries + 3):
            extra, body = prepare() if prepare is not None else (headers or {}, content)
            request_headers = dict(extra)
            sent_authorization = await self.auth.authorization(self._host) if authenticate else None
            if sent_authorization is not None:
                request_headers["Authorization"] = sent_authorization
            outcome = await self._attempt(call, attempt, request_headers, body)
            if (
                isinstance(outcome, Reply)
                and outcome.status == 401
                and sent_authorization is not None
                and self.auth.refreshable
                and not refreshed
            ):
                refreshed = True
                self.auth.invalidate(sent_authorization)
                log.info("%s %s: 401, fetching a new access token, retrying once", method, url.path)
                continue
            delay = self._retry_delay(call, outcome, retries, started, attempt)
            if delay is None:
                assert isinstance(outcome, Reply)
                return self._final(call, outcome, accept_status)
            retries += 1
            log.warning(
                "%s %s %s: %s; retry %d in %.1f s",
                method,
                interaction,
                resource_type or "-",
                outcome.status if isinstance(outcome, Reply) else type(outcome).__name__,
                retries,
                delay,
            )
            await self._sleep(delay)
        raise request_error(FHIRUnavailable, method, url, "retry attempts exhausted")

    async def send_json(
        self,
        method: str,
        url: httpx.URL,
        *,
        interaction: str,
        resource_type: str | None,
        idempotent: bool,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        accept_status: frozenset[int] = frozenset(),
    ) -> tuple[Reply, dict[str, Any] | None]:
        """:meth:`send` with a JSON body and a parsed JSON object (or None when empty)."""
        request_headers = dict(headers or {})
        content = None
        if body is not None:
            content = orjson.dumps(body)
            request_headers["Content-Type"] = FHIR_JSON
        reply = await self.send(
            method,
            url,
            interaction=interaction,
            resource_type=resource_type,
            idempotent=idempotent,
            authenticate=authenticate,
            headers=request_headers,
            content=content,
            accept_status=accept_status,
        )
        return reply, parse_json(reply)


def parse_json(reply: Reply) -> dict[str, Any] | None:
    """The reply body as a JSON object; None when empty.

    Raises:
        FHIRProtocolError: the body is not JSON, or not a JSON object (truncated bodies
            included).
    """
    if not reply.body.strip():
        return None
    try:
        parsed = orjson.loads(reply.body)
    except orjson.JSONDecodeError as exc:
        ctype = reply.headers.get("content-type", "no content type")
        raise request_error(
            FHIRProtocolError,
            reply.method,
            reply.url,
            f"response is not valid JSON ({ctype}, {len(reply.body)} bytes: {exc})",
            status=reply.status,
        ) from None
    if not isinstance(parsed, dict):
        raise request_error(
            FHIRProtocolError,
            reply.method,
            reply.url,
            "response is JSON but not an object",
            status=reply.status,
        )
    return parsed

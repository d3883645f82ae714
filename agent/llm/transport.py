"""The one HTTP chokepoint between the agent and an OpenAI-compatible model server.

Every request to a model goes through :class:`ChatTransport`, which owns the timeouts,
the bounded retries and the mapping of failures onto :mod:`agent.llm.errors`:

* connection errors, connect timeouts, dropped connections, HTTP 408/429/5xx: retried
  ``max_retries`` times with exponential backoff and jitter (``Retry-After`` honoured,
  capped), then :class:`~agent.llm.errors.LLMUnavailable` naming the URL;
* read timeouts: not retried (a server that is up but slow would only be asked to do
  the same slow work again), :class:`~agent.llm.errors.LLMUnavailable`;
* other 4xx: :class:`~agent.llm.errors.LLMRequestError` with the server's own message
  (context length exceeded, unknown model, bad key), never retried.

A stream is retried only until the server accepts it; once tokens flow, a broken
stream is an outage, not something to paper over.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from agent.llm.errors import LLMRequestError, LLMUnavailable

__all__ = ["RETRYABLE_STATUSES", "ChatTransport", "describe_http_error"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 8.0
_MAX_RETRY_AFTER_S = 30.0
_SERVER_MESSAGE_LIMIT = 500


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, error: LLMUnavailable, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client.

    httpx builds one per client otherwise, which cost 14% of the eval runner's CPU in a
    py-spy profile (``bench eval``, concurrency 64).
    """
    return httpx.create_ssl_context()


class ChatTransport:
    """JSON and server-sent-event requests to one OpenAI-compatible base URL.

    Args:
        base_url: Base URL ending in ``/v1`` (no trailing slash).
        api_key: Bearer key, if the server wants one.
        timeout: Seconds allowed for a whole response (between bytes when streaming).
        connect_timeout: Seconds allowed to open the connection.
        max_retries: Extra attempts after a retryable failure.
        backoff: Base delay in seconds; attempt ``n`` waits about ``backoff * 2**(n-1)``.
        transport: Optional httpx transport for sync calls (fault injection in tests).
        async_transport: Optional httpx transport for async calls.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self._timeout_s = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._transport = transport
        self._async_transport = async_transport

    # ----- public calls ---------------------------------------------------------------

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` and return the JSON response, retrying as documented."""
        url = self._url(path)
        for attempt in range(self._max_retries + 1):
            try:
                with self._client() as client:
                    response = self._send(client, url, payload)
                    return _json_body(response, url)
            except _Retry as retry:
                self._sleep_or_raise(attempt, retry)
        raise AssertionError("unreachable")  # pragma: no cover

    async def apost_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Async :meth:`post_json`."""
        url = self._url(path)
        for attempt in range(self._max_retries + 1):
            try:
                async with self._aclient() as client:
                    response = await self._asend(client, url, payload)
                    return _json_body(response, url)
            except _Retry as retry:
                await self._asleep_or_raise(attempt, retry)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream_events(self, path: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST ``payload`` and yield each server-sent JSON event until ``[DONE]``."""
        url = self._url(path)
        for attempt in range(self._max_retries + 1):
            try:
                with self._client() as client, self._open_stream(client, url, payload) as resp:
                    yield from _sse_events(_guard_sync_lines(resp, self.base_url), url)
                    return
            except _Retry as retry:
                self._sleep_or_raise(attempt, retry)

    async def astream_events(
        self, path: str, payload: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """Async :meth:`stream_events`."""
        url = self._url(path)
        for attempt in range(self._max_retries + 1):
            try:
                async with self._aclient() as client:
                    request = client.build_request("POST", url, json=payload)
                    response = await self._asend_request(client, request, stream=True)
                    try:
                        async for event in _asse_events(response, url, self.base_url):
                            yield event
                    finally:
                        await response.aclose()
                    return
            except _Retry as retry:
                await self._asleep_or_raise(attempt, retry)

    def get_json(self, path: str) -> dict[str, Any]:
        """GET a JSON document (probes such as ``/models``); retried like a POST."""
        url = self._url(path)
        for attempt in range(self._max_retries + 1):
            try:
                with self._client() as client:
                    try:
                        response = client.get(url)
                    except httpx.HTTPError as exc:
                        raise _transport_failure(exc, self.base_url, self._timeout_s) from exc
                    _check_status(response, url, self.base_url)
                    return _json_body(response, url)
            except _Retry as retry:
                self._sleep_or_raise(attempt, retry)
        raise AssertionError("unreachable")  # pragma: no cover

    # ----- plumbing -------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._timeout,
            headers=self._headers,
            transport=self._transport,
            verify=_ssl_context(),
        )

    def _aclient(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout,
            headers=self._headers,
            transport=self._async_transport,
            verify=_ssl_context(),
        )

    def _send(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            response = client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise _transport_failure(exc, self.base_url, self._timeout_s) from exc
        _check_status(response, url, self.base_url)
        return response

    async def _asend(
        self, client: httpx.AsyncClient, url: str, payload: dict[str, Any]
    ) -> httpx.Response:
        request = client.build_request("POST", url, json=payload)
        return await self._asend_request(client, request, stream=False)

    async def _asend_request(
        self, client: httpx.AsyncClient, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        try:
            response = await client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise _transport_failure(exc, self.base_url, self._timeout_s) from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError as exc:
                raise _transport_failure(exc, self.base_url, self._timeout_s) from exc
            finally:
                await response.aclose()
            _check_status(response, str(request.url), self.base_url)
        return response

    def _open_stream(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> _SyncStream:
        return _SyncStream(client, url, payload, self.base_url, self._timeout_s)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER_S)
        return min(self._backoff * 2**attempt * (0.5 + random.random()), _MAX_BACKOFF_S)

    def _sleep_or_raise(self, attempt: int, retry: _Retry) -> None:
        if attempt >= self._max_retries:
            raise _final(retry.error, attempt + 1) from None
        time.sleep(self._delay(attempt, retry.retry_after))

    async def _asleep_or_raise(self, attempt: int, retry: _Retry) -> None:
        if attempt >= self._max_retries:
            raise _final(retry.error, attempt + 1) from None
        await asyncio.sleep(self._delay(attempt, retry.retry_after))


class _SyncStream:
    """Context manager opening a streamed POST with status checking."""

    def __init__(
        self, client: httpx.Client, url: str, payload: dict[str, Any], base_url: str, timeout: float
    ) -> None:
        self._client = client
        self._url = url
        self._payload = payload
        self._base_url = base_url
        self._timeout = timeout
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        request = self._client.build_request("POST", self._url, json=self._payload)
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _transport_failure(exc, self._base_url, self._timeout) from exc
        self._response = response
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError as exc:
                raise _transport_failure(exc, self._base_url, self._timeout) from exc
            finally:
                response.close()
            _check_status(response, self._url, self._base_url)
        return response

    def __exit__(self, *exc_info: object) -> None:
        if self._response is not None:
            self._response.close()


def _guard_sync_lines(response: httpx.Response, base_url: str) -> Iterator[str]:
    try:
        yield from response.iter_lines()
    except httpx.HTTPError as exc:
        # Tokens may already have been shown: a broken stream is final, not retried.
        raise LLMUnavailable(
            f"the model endpoint at {base_url} broke off the stream: {describe_http_error(exc)}",
            url=base_url,
        ) from exc


def _sse_events(lines: Iterator[str], url: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        event = _parse_sse_line(line, url)
        if event is _DONE:
            return
        if event is not None:
            yield event  # type: ignore[misc]


async def _asse_events(
    response: httpx.Response, url: str, base_url: str
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for line in response.aiter_lines():
            event = _parse_sse_line(line, url)
            if event is _DONE:
                return
            if event is not None:
                yield event  # type: ignore[misc]
    except httpx.HTTPError as exc:
        raise LLMUnavailable(
            f"the model endpoint at {base_url} broke off the stream: {describe_http_error(exc)}",
            url=base_url,
        ) from exc


_DONE = object()


def _parse_sse_line(line: str, url: str) -> object:
    if not line.startswith("data:"):
        return None  # blank separators, comments, "event:" lines
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return _DONE
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        raise LLMUnavailable(f"{url} sent a stream event that is not JSON") from None
    if isinstance(event, dict) and "error" in event and "choices" not in event:
        message = _server_message_from(event)
        raise LLMUnavailable(f"{url} reported an error in the middle of the stream: {message}")
    return event


def _json_body(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LLMUnavailable(f"{url} returned a body that is not JSON", url=url) from None
    if not isinstance(body, dict):
        raise LLMUnavailable(f"{url} returned JSON that is not an object", url=url)
    return body


def _check_status(response: httpx.Response, url: str, base_url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    server_message = _server_message(response)
    if status in RETRYABLE_STATUSES:
        raise _Retry(
            LLMUnavailable(
                f"the model endpoint at {base_url} is unavailable "
                f"(HTTP {status}: {server_message})",
                url=base_url,
                status=status,
            ),
            retry_after=_retry_after(response),
        )
    raise LLMRequestError(
        f"the model endpoint at {base_url} refused the request (HTTP {status}): {server_message}",
        status=status,
        server_message=server_message,
    )


def _transport_failure(exc: httpx.HTTPError, base_url: str, timeout: float) -> Exception:
    """The exception to raise for a failed exchange: final for read timeouts, else a retry."""
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return LLMUnavailable(
            f"the model endpoint at {base_url} did not answer within {timeout:g} s",
            url=base_url,
        )
    return _Retry(
        LLMUnavailable(
            f"the model endpoint at {base_url} is unreachable ({describe_http_error(exc)})",
            url=base_url,
        )
    )


def _final(error: LLMUnavailable, attempts: int) -> LLMUnavailable:
    suffix = f" after {attempts} attempts" if attempts > 1 else ""
    return LLMUnavailable(f"{error}{suffix}", url=error.url, status=error.status)


def describe_http_error(exc: httpx.HTTPError) -> str:
    """A short, plain description of a failed HTTP exchange (no request content)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip()
    if "refused" in text.lower():
        return "connection refused"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:_SERVER_MESSAGE_LIMIT] or response.reason_phrase
    return _server_message_from(body) or response.reason_phrase


def _server_message_from(body: object) -> str:
    """The human message in the error shapes of OpenAI, llama.cpp, vLLM and FastAPI."""
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:_SERVER_MESSAGE_LIMIT]
            if isinstance(value, dict):
                nested = _server_message_from(value)
                if nested:
                    return nested
    return json.dumps(body)[:_SERVER_MESSAGE_LIMIT] if body else ""

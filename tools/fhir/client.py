"""The async FHIR R4 client: the one way the project talks to a FHIR server.

The FHIR interactions live here: they build URLs, hand them to the chokepoint
(``tools.fhir.sender``: auth, retries, accounting, error mapping) and check that the answer
is what was asked for (the resource type read, a searchset Bundle, a transaction-response
with one entry per request). Decisions callers rely on:

* Paging follows ``link[next]`` exactly as the server wrote it, after the checks of
  ``tools.fhir.paging`` (absolute, same server, not seen before).
* The page cap never yields silently partial results: :meth:`FHIRClient.search_all` returns a
  :class:`SearchResult` with ``truncated=True`` and ``remaining`` (matches left unread, when
  the server gave a total), and logs a warning.
* Searches send ``Prefer: handling=strict`` (unless ``strict_search=False``): a server that
  honours it rejects an unknown or unsupported parameter with 400 instead of ignoring it and
  returning a broader result that would pass for evidence.
* Ids, resource types and parameter names are checked against FHIR syntax before anything is
  sent (:class:`FHIRBadRequest` with ``status`` None), so a value that came from a model or a
  record can never change the path of a request.
* Logs (logger ``ehr_agent.fhir``) carry method, interaction, resource type, status, latency
  and sizes; never resource contents, never query values.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import httpx

from tools.fhir.auth import Auth, NoAuth, TokenRequest
from tools.fhir.bundles import SearchResult, bundle_is_idempotent
from tools.fhir.capabilities import CapabilityStatement, parse_capability_statement
from tools.fhir.errors import FHIRAuthError, FHIRBadRequest, FHIRProtocolError, request_error
from tools.fhir.paging import PageCollector, check_link
from tools.fhir.retry import RetryPolicy
from tools.fhir.search_params import ParamsLike, normalize_params
from tools.fhir.sender import FHIR_JSON, Reply, RequestSender, parse_json
from tools.fhir.stats import ClientStats, RequestHook

__all__ = ["FHIR_JSON", "FHIRClient"]

_TYPE = re.compile(r"^[A-Z][A-Za-z]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_LOCATION = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]{0,63})/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$"
)
_STRICT = {"Prefer": "handling=strict"}
_SEARCHSET = frozenset({"searchset"})


def _check_type(resource_type: object) -> str:
    if not isinstance(resource_type, str) or not _TYPE.match(resource_type):
        raise FHIRBadRequest(f"invalid FHIR resource type {resource_type!r}")
    return resource_type


def _check_id(resource_id: object, what: str = "id") -> str:
    if not isinstance(resource_id, str) or not _ID.match(resource_id):
        raise FHIRBadRequest(f"invalid FHIR {what} {resource_id!r} (1-64 of A-Z a-z 0-9 - .)")
    return resource_id


def _expect(reply: Reply, body: dict[str, Any] | None, resource_type: str) -> dict[str, Any]:
    if body is None:
        problem = f"empty response where a {resource_type} was expected"
    elif body.get("resourceType") != resource_type:
        problem = f"expected a {resource_type}, got {body.get('resourceType')!r}"
    else:
        return body
    raise request_error(FHIRProtocolError, reply.method, reply.url, problem, status=reply.status)


def _expect_bundle(
    reply: Reply, body: dict[str, Any] | None, types: frozenset[str] | None, *, resources: bool
) -> dict[str, Any]:
    """A Bundle of one of ``types``; with ``resources``, every entry must carry a resource."""
    bundle = _expect(reply, body, "Bundle")
    problem = None
    entries = bundle.get("entry", [])
    if types is not None and bundle.get("type") not in types:
        problem = f"expected a {'/'.join(sorted(types))} Bundle, got {bundle.get('type')!r}"
    elif not isinstance(entries, list):
        problem = "Bundle.entry is not a list"
    elif resources:
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                problem = f"Bundle entry {index} has no resource"
                break
    if problem is not None:
        raise request_error(
            FHIRProtocolError, reply.method, reply.url, problem, status=reply.status
        )
    return bundle


class FHIRClient:
    """An async client for one FHIR R4 server (see the module docstring for its rules).

    Use it as an async context manager, or call :meth:`aclose` when done. It is safe to share
    between concurrent tasks of one event loop.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        retry_budget_s: float = 30.0,
        max_pages: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        strict_search: bool = True,
        max_response_bytes: int = 64 * 1024 * 1024,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        on_request: RequestHook | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """Configure the client; no request is made until the first call.

        Args:
            base_url: the FHIR base URL (``https://host/fhir``); a trailing slash is dropped.
            auth: how to authorise requests (default :class:`NoAuth`).
            timeout: seconds allowed for one attempt (connect, send, read the whole body).
            max_retries: retries after the first attempt of one request.
            retry_budget_s: no retry wait may end later than this after the first attempt.
            max_pages: default page cap of :meth:`search_all` and :meth:`everything`.
            transport: an httpx transport (tests: ``httpx.MockTransport``/``ASGITransport``);
                it stays open when the client closes, since its owner may share it.
            headers: extra headers sent with every request.
            strict_search: send ``Prefer: handling=strict`` with searches.
            max_response_bytes: larger responses fail with :class:`FHIRProtocolError`.
            backoff_base_s: first computed retry wait.
            backoff_max_s: cap on a computed retry wait.
            on_request: hook called after every attempt (see ``tools.fhir.stats``).
            sleep: how to wait between retries (injectable so tests do not wait).
            clock: monotonic seconds for the retry budget (injectable with ``sleep``).
            rng: randomness for backoff jitter.
        """
        base = httpx.URL(base_url.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        if base.query or base.fragment:
            raise ValueError("base_url must not carry a query or a fragment")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        self._base = base
        self._base_str = str(base)
        self._max_pages = max_pages
        self._strict = strict_search
        self._sender = RequestSender(
            auth=auth if auth is not None else NoAuth(),
            host=self,
            timeout=timeout,
            retry=RetryPolicy(
                max_retries=max_retries,
                budget_s=retry_budget_s,
                backoff_base_s=backoff_base_s,
                backoff_max_s=backoff_max_s,
            ),
            max_response_bytes=max_response_bytes,
            transport=transport,
            headers=headers,
            sleep=sleep,
            clock=clock,
            rng=rng if rng is not None else random.Random(),
            hooks=[on_request] if on_request is not None else [],
        )
        self._capabilities: CapabilityStatement | None = None
        self._smart: dict[str, Any] | None = None
        self._smart_loaded = False
        self._metadata_lock = asyncio.Lock()
        self._smart_lock = asyncio.Lock()

    # --- lifecycle and introspection -----------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a transport passed in by the caller is left open)."""
        await self._sender.aclose()

    @property
    def base_url(self) -> str:
        """The configured base URL, without a trailing slash."""
        return self._base_str

    @property
    def auth(self) -> Auth:
        """The authorisation mode in use."""
        return self._sender.auth

    @property
    def stats(self) -> ClientStats:
        """Cumulative counters of this client (``snapshot()``, ``reset()``)."""
        return self._sender.stats

    @property
    def max_pages(self) -> int:
        """Default page cap of paged searches."""
        return self._max_pages

    def add_request_hook(self, hook: RequestHook) -> Callable[[], None]:
        """Call ``hook`` after every attempt; returns a function that removes it."""
        self._sender.hooks.append(hook)
        return lambda: self._sender.hooks.remove(hook)

    def __repr__(self) -> str:
        return f"FHIRClient({self._base_str!r}, auth={self.auth!r})"

    def _url(self, *segments: str, params: tuple[tuple[str, str], ...] = ()) -> httpx.URL:
        path = "/".join((self._base_str, *segments))
        return httpx.URL(path, params=params) if params else httpx.URL(path)

    # --- reads and searches --------------------------------------------------------------

    async def read(
        self, resource_type: str, resource_id: str, *, version: str | None = None
    ) -> dict[str, Any]:
        """Read one resource (``vread`` when ``version`` is given).

        Raises:
            FHIRNotFound: no such resource.
            FHIRGone: it was deleted.
            FHIRProtocolError: the server returned something other than that resource.
        """
        rtype = _check_type(resource_type)
        rid = _check_id(resource_id)
        segments = [rtype, rid]
        if version is not None:
            segments += ["_history", _check_id(version, "version id")]
        reply, body = await self._sender.send_json(
            "GET",
            self._url(*segments),
            interaction="vread" if version else "read",
            resource_type=rtype,
            idempotent=True,
        )
        resource = _expect(reply, body, rtype)
        if resource.get("id") not in (None, rid):
            raise request_error(
                FHIRProtocolError, "GET", reply.url, "the server returned a different resource id"
            )
        return resource

    async def _page(
        self, url: httpx.URL, *, interaction: str, resource_type: str | None
    ) -> dict[str, Any]:
        reply, body = await self._sender.send_json(
            "GET",
            url,
            interaction=interaction,
            resource_type=resource_type,
            idempotent=True,
            headers=_STRICT if self._strict else None,
        )
        return _expect_bundle(reply, body, _SEARCHSET, resources=True)

    async def search(self, resource_type: str, params: ParamsLike = None) -> dict[str, Any]:
        """One page of a type-level search: the searchset Bundle as returned.

        Args:
            resource_type: e.g. ``"Observation"``.
            params: a :class:`SearchParams`, a mapping (a list value repeats the parameter),
                or a sequence of ``(name, value)`` pairs.
        """
        rtype = _check_type(resource_type)
        url = self._url(rtype, params=normalize_params(params))
        return await self._page(url, interaction="search-type", resource_type=rtype)

    async def follow(self, link: str) -> dict[str, Any]:
        """One page from a server-given link (e.g. ``link[next]``), after the origin check.

        Raises:
            FHIRProtocolError: the link is relative or leaves the configured server (nothing
                is sent), or the answer is not a searchset Bundle.
        """
        return await self._page(
            check_link(self._base, link), interaction="page", resource_type=None
        )

    async def _collect(
        self, url: httpx.URL, *, interaction: str, resource_type: str, max_pages: int | None
    ) -> SearchResult:
        cap = self._max_pages if max_pages is None else max_pages
        if cap < 1:
            raise ValueError("max_pages must be >= 1")
        pages = PageCollector(self._base, url, label=f"{interaction} {resource_type}")
        link: httpx.URL | None = url
        for number in range(cap):
            if link is None:
                break
            page = await self._page(
                link,
                interaction=interaction if number == 0 else "search-page",
                resource_type=resource_type,
            )
            link = pages.add(page)
        return pages.result()

    async def search_all(
        self, resource_type: str, params: ParamsLike = None, *, max_pages: int | None = None
    ) -> SearchResult:
        """A search with every page followed, up to the page cap (then marked truncated).

        Raises:
            FHIRProtocolError: a next link loops, is relative or leaves the server; a page is
                not a searchset Bundle.
        """
        rtype = _check_type(resource_type)
        url = self._url(rtype, params=normalize_params(params))
        return await self._collect(
            url, interaction="search-type", resource_type=rtype, max_pages=max_pages
        )

    async def everything(
        self, patient_id: str, params: ParamsLike = None, *, max_pages: int | None = None
    ) -> SearchResult:
        """``Patient/[id]/$everything``, all pages followed (``_since``, ``_type``... in params)."""
        rid = _check_id(patient_id, "patient id")
        url = self._url("Patient", rid, "$everything", params=normalize_params(params))
        return await self._collect(
            url, interaction="everything", resource_type="Patient", max_pages=max_pages
        )

    # --- discovery -----------------------------------------------------------------------

    async def capabilities(self, *, refresh: bool = False) -> CapabilityStatement:
        """The server's CapabilityStatement, summarised (fetched once, then cached)."""
        async with self._metadata_lock:
            if self._capabilities is None or refresh:
                reply, body = await self._sender.send_json(
                    "GET",
                    self._url("metadata"),
                    interaction="capabilities",
                    resource_type=None,
                    idempotent=True,
                )
                self._capabilities = parse_capability_statement(
                    _expect(reply, body, "CapabilityStatement")
                )
            return self._capabilities

    async def smart_configuration(self, *, refresh: bool = False) -> dict[str, Any] | None:
        """``[base]/.well-known/smart-configuration`` (cached), or None when the server has none.

        Fetched without credentials, as SMART requires it to be public.
        """
        async with self._smart_lock:
            if not self._smart_loaded or refresh:
                reply, body = await self._sender.send_json(
                    "GET",
                    self._url(".well-known", "smart-configuration"),
                    interaction="smart-configuration",
                    resource_type=None,
                    idempotent=True,
                    authenticate=False,
                    headers={"Accept": "application/json"},
                    accept_status=frozenset({404}),
                )
                if reply.status != 404 and body is None:
                    raise request_error(
                        FHIRProtocolError, "GET", reply.url, "empty smart-configuration document"
                    )
                self._smart = None if reply.status == 404 else body
                self._smart_loaded = True
            return dict(self._smart) if self._smart is not None else None

    async def discover_token_url(self) -> str:
        """The OAuth token endpoint the server advertises (SMART configuration, then metadata).

        Raises:
            FHIRAuthError: the server advertises none.
        """
        config = await self.smart_configuration()
        endpoint = config.get("token_endpoint") if config else None
        if not isinstance(endpoint, str):
            # Fetched without credentials: they are what we are trying to obtain.
            reply, body = await self._sender.send_json(
                "GET",
                self._url("metadata"),
                interaction="capabilities",
                resource_type=None,
                idempotent=True,
                authenticate=False,
            )
            statement = parse_capability_statement(_expect(reply, body, "CapabilityStatement"))
            endpoint = statement.token_url
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise request_error(
                FHIRAuthError,
                None,
                None,
                f"{self._base_str} advertises no token endpoint (neither in "
                ".well-known/smart-configuration nor in its CapabilityStatement): configure one",
            )
        return endpoint

    async def request_token(
        self, token_url: str, make_request: Callable[[], TokenRequest]
    ) -> dict[str, Any]:
        """POST a token request, retried like an idempotent request, each try built afresh.

        Raises:
            FHIRAuthError: the token endpoint refused the client (any 4xx).
        """
        url = httpx.URL(token_url)

        def prepare() -> tuple[Mapping[str, str], bytes]:
            request = make_request()
            headers = {
                **request.headers,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            }
            return headers, urlencode(dict(request.form)).encode()

        reply = await self._sender.send(
            "POST",
            url,
            interaction="token",
            resource_type=None,
            idempotent=True,
            authenticate=False,
            prepare=prepare,
            token_endpoint=True,
        )
        body = parse_json(reply)
        if body is None:
            raise request_error(FHIRProtocolError, "POST", url, "empty token response")
        return body

    # --- writes --------------------------------------------------------------------------

    async def _written(
        self, reply: Reply, body: dict[str, Any] | None, rtype: str
    ) -> dict[str, Any]:
        """The resource a create/update produced: from the body, else read from Location."""
        if body is not None and body.get("resourceType") == rtype:
            return body
        location = reply.headers.get("location") or reply.headers.get("content-location")
        match = _LOCATION.search(httpx.URL(location).path) if location else None
        if match is None or match["type"] != rtype:
            raise request_error(
                FHIRProtocolError,
                reply.method,
                reply.url,
                "the server returned neither the resource nor a usable Location",
                status=reply.status,
            )
        return await self.read(rtype, match["id"])

    async def create(
        self, resource: Mapping[str, Any], *, if_none_exist: ParamsLike = None
    ) -> dict[str, Any]:
        """Create a resource (POST); with ``if_none_exist`` a conditional create.

        A plain create is not idempotent and is retried only when it certainly did not reach
        the server; a conditional create is retried like a read.

        Returns:
            The stored resource, with its server-assigned id.
        """
        rtype = _check_type(resource.get("resourceType"))
        headers = {"Prefer": "return=representation"}
        condition = normalize_params(if_none_exist)
        if condition:
            headers["If-None-Exist"] = urlencode(condition)
        reply, body = await self._sender.send_json(
            "POST",
            self._url(rtype),
            interaction="create",
            resource_type=rtype,
            idempotent=bool(condition),
            body=resource,
            headers=headers,
        )
        return await self._written(reply, body, rtype)

    async def update(
        self, resource: Mapping[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Create or replace a resource at its id (PUT); ``if_match`` guards the version.

        Raises:
            ValueError: the resource has no id.
            FHIRConflict: ``if_match`` no longer matches the current version.
        """
        rtype = _check_type(resource.get("resourceType"))
        if resource.get("id") is None:
            raise ValueError("update needs a resource with an id")
        rid = _check_id(resource.get("id"))
        headers = {"Prefer": "return=representation"}
        if if_match is not None:
            headers["If-Match"] = if_match
        reply, body = await self._sender.send_json(
            "PUT",
            self._url(rtype, rid),
            interaction="update",
            resource_type=rtype,
            idempotent=True,
            body=resource,
            headers=headers,
        )
        return await self._written(reply, body, rtype)

    async def delete(self, resource_type: str, resource_id: str) -> None:
        """Delete a resource."""
        rtype = _check_type(resource_type)
        rid = _check_id(resource_id)
        await self._sender.send(
            "DELETE",
            self._url(rtype, rid),
            interaction="delete",
            resource_type=rtype,
            idempotent=True,
        )

    async def _bundle(self, bundle: Mapping[str, Any], kind: str) -> dict[str, Any]:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != kind:
            raise ValueError(f"expected a Bundle of type {kind!r}")
        sent = len(bundle.get("entry") or [])
        reply, body = await self._sender.send_json(
            "POST",
            self._base,
            interaction=kind,
            resource_type=None,
            idempotent=bundle_is_idempotent(bundle),
            body=bundle,
        )
        response = _expect_bundle(reply, body, frozenset({f"{kind}-response"}), resources=False)
        received = len(response.get("entry") or [])
        if received != sent:
            raise request_error(
                FHIRProtocolError,
                "POST",
                reply.url,
                f"{kind} of {sent} entries answered with {received}",
            )
        return response

    async def transaction(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; all-or-nothing on the server.

        Retried like a read when every entry is idempotent (GET/PUT/DELETE or conditional
        create), as when loading a bundle of PUTs; otherwise only when it surely did not
        arrive.

        Returns:
            The transaction-response Bundle (one entry per request entry, in order).
        """
        return await self._bundle(bundle, "transaction")

    async def batch(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """POST a batch Bundle; each entry succeeds or fails on its own.

        Returns:
            The batch-response Bundle: check each ``entry.response.status`` (a batch answers
            200 even when some entries failed).
        """
        return await self._bundle(bundle, "batch")

    async def binary(self, binary_id: str, accept: str = "*/*") -> tuple[bytes, str]:
        """The content of a Binary resource, as bytes with its content type.

        A server that answers with the FHIR Binary resource (JSON with base64 ``data``) rather
        than the raw content is handled too: the data is decoded.
        """
        rid = _check_id(binary_id)
        reply = await self._sender.send(
            "GET",
            self._url("Binary", rid),
            interaction="read",
            resource_type="Binary",
            idempotent=True,
            headers={"Accept": accept},
        )
        ctype = reply.headers.get("content-type", "application/octet-stream")
        if ctype.split(";", 1)[0].strip().lower() in (FHIR_JSON, "application/json"):
            body = parse_json(reply)
            if body is not None and body.get("resourceType") == "Binary":
                content_type = body.get("contentType") or "application/octet-stream"
                data = body.get("data")
                if data is None:
                    return b"", content_type
                try:
                    return base64.b64decode(data, validate=True), content_type
                except (binascii.Error, TypeError, ValueError):
                    raise request_error(
                        FHIRProtocolError, "GET", reply.url, "Binary.data is not valid base64"
                    ) from None
        return reply.body, ctype

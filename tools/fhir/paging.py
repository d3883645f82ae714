"""Following search pages safely and merging them into one :class:`SearchResult`.

A next link is used exactly as the server wrote it, but only after three checks: it is an
absolute URL, it stays on the configured server (same scheme, host and port, inside the base
path), and it was not seen before in this search. Anything else is a
:class:`~tools.fhir.errors.FHIRProtocolError` raised before a request is made, so credentials
never travel to a host the user did not configure and a looping server cannot spin forever.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from tools.fhir.bundles import SearchResult, next_link
from tools.fhir.errors import FHIRProtocolError, request_error
from tools.fhir.sender import default_port

__all__ = ["PageCollector", "check_link"]

log = logging.getLogger("ehr_agent.fhir")


def check_link(base: httpx.URL, link: str) -> httpx.URL:
    """Parse a server-given link; refuse it unless it stays on the server at ``base``.

    Raises:
        FHIRProtocolError: the link is invalid, relative, or leaves the server.
    """
    try:
        url = httpx.URL(link)
    except httpx.InvalidURL:
        raise request_error(
            FHIRProtocolError, None, None, "the server sent an invalid link"
        ) from None
    if not url.is_absolute_url:
        raise request_error(
            FHIRProtocolError,
            None,
            None,
            "the server sent a relative link (FHIR requires absolute)",
        )
    origin = f"{url.scheme}://{url.host}:{default_port(url)}"
    base_origin = f"{base.scheme}://{base.host}:{default_port(base)}"
    base_path = base.path.rstrip("/")
    path = url.path.rstrip("/")
    inside = not base_path or path == base_path or path.startswith(base_path + "/")
    if origin != base_origin or not inside:
        log.warning("refused a link to %s%s (base %s)", origin, url.path, base)
        raise request_error(
            FHIRProtocolError,
            None,
            None,
            f"refused to follow a link to {origin}{url.path}: it leaves the configured server "
            f"{base} (check the server's public base URL setting)",
        )
    return url


class PageCollector:
    """Accumulates the pages of one search; decides which next link, if any, to follow."""

    def __init__(self, base: httpx.URL, first_url: httpx.URL, *, label: str) -> None:
        self._base = base
        self._first_url = first_url
        self._label = label
        self._seen = {str(first_url)}
        self._matches: dict[tuple[str, str] | int, dict[str, Any]] = {}
        self._included: dict[tuple[str, str] | int, dict[str, Any]] = {}
        self._outcomes: list[dict[str, Any]] = []
        self._anonymous = itertools.count()  # keys for resources without an id (never merged)
        self._duplicates = 0
        self._total: int | None = None
        self._pages = 0
        self._next: str | None = None

    def add(self, page: Mapping[str, Any]) -> httpx.URL | None:
        """Absorb one searchset page; return its checked next link, or None at the end.

        Raises:
            FHIRProtocolError: the next link loops back to a page already read, is relative, or
                leaves the server.
        """
        self._pages += 1
        if self._pages == 1 and isinstance(page.get("total"), int):
            self._total = page["total"]
        for entry in page.get("entry") or ():
            resource = entry["resource"]
            mode = (entry.get("search") or {}).get("mode", "match")
            if mode == "outcome" or resource["resourceType"] == "OperationOutcome":
                self._outcomes.append(resource)
                continue
            rid = resource.get("id")
            key = (resource["resourceType"], rid) if isinstance(rid, str) else next(self._anonymous)
            target = self._included if mode == "include" else self._matches
            if key in target:
                self._duplicates += mode != "include"
                continue
            target[key] = resource
        self._next = next_link(page)
        if self._next is None:
            return None
        if self._next in self._seen:
            raise request_error(
                FHIRProtocolError,
                "GET",
                self._first_url,
                f"the next link of page {self._pages} points back to a page already read",
            )
        self._seen.add(self._next)
        return check_link(self._base, self._next)

    def result(self) -> SearchResult:
        """The merged result; truncated when the last page read still had a next link."""
        truncated = self._next is not None
        result = SearchResult(
            resources=tuple(self._matches.values()),
            included=tuple(self._included.values()),
            outcomes=tuple(self._outcomes),
            total=self._total,
            pages=self._pages,
            truncated=truncated,
            next_url=self._next,
        )
        if self._duplicates:
            log.warning(
                "%s: %d duplicate matches across pages dropped", self._label, self._duplicates
            )
        if truncated:
            log.warning(
                "%s: stopped at the page cap after %d pages: %d matches read, %s left",
                self._label,
                self._pages,
                len(result.resources),
                result.remaining if result.remaining is not None else "an unknown number",
            )
        elif self._total is not None and self._total != len(result.resources):
            log.warning(
                "%s: Bundle.total is %d but %d matches were read",
                self._label,
                self._total,
                len(result.resources),
            )
        return result

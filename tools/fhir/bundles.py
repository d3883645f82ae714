"""Reading Bundles: search pages, the merged result of a paged search, transaction shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchResult", "next_link", "reference_of"]


def reference_of(resource: Mapping[str, Any]) -> str:
    """``Type/id`` of a resource, the form citations use."""
    return f"{resource.get('resourceType')}/{resource.get('id')}"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """All pages of one search, merged; explicit about anything left unread.

    Attributes:
        resources: the matches (``search.mode`` ``match`` or absent), in server order, each
            ``Type/id`` once.
        included: resources added by ``_include``/``_revinclude`` (mode ``include``), each once.
        outcomes: OperationOutcome entries (mode ``outcome``): the server's warnings, e.g.
            about a parameter it ignored.
        total: ``Bundle.total`` of the first page, when the server gave it.
        pages: pages fetched.
        truncated: True when a next link was left unfollowed because of the page cap. The
            result is then partial and callers must say so (see :attr:`remaining`).
        next_url: the first unfollowed next link (may carry patient ids: do not log it).
    """

    resources: tuple[dict[str, Any], ...]
    included: tuple[dict[str, Any], ...] = ()
    outcomes: tuple[dict[str, Any], ...] = ()
    total: int | None = None
    pages: int = 1
    truncated: bool = False
    next_url: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.resources)

    @property
    def remaining(self) -> int | None:
        """Matches not fetched: 0 when complete, None when truncated and the total is unknown."""
        if not self.truncated:
            return 0
        if self.total is None:
            return None
        return max(0, self.total - len(self.resources))

    @property
    def references(self) -> list[str]:
        """``Type/id`` of every match, in order."""
        return [reference_of(r) for r in self.resources]


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of the ``next`` link of a Bundle, exactly as given, or None."""
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


_IDEMPOTENT_ENTRY_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def bundle_is_idempotent(bundle: Mapping[str, Any]) -> bool:
    """Whether sending this transaction/batch twice leaves the server as sending it once.

    True when every entry is a GET/HEAD/PUT/DELETE or a conditional create (``ifNoneExist``);
    a plain POST (create) or a PATCH makes the whole bundle non-idempotent.
    """
    entries: Sequence[Any] = bundle.get("entry") or ()
    for entry in entries:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            return False
        method = str(request.get("method", "")).upper()
        if method in _IDEMPOTENT_ENTRY_METHODS:
            continue
        if method == "POST" and request.get("ifNoneExist"):
            continue
        return False
    return True

"""Talking to a server under test: strict searches, every page followed, nothing trusted.

Every request carries ``Prefer: handling=strict`` (search.html#errors), so a parameter a
server does not support is a 400 rather than silently ignored and over-matching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

Params = list[tuple[str, str]]
STRICT = {"Prefer": "handling=strict", "Accept": "application/fhir+json"}


class Unsupported(Exception):
    """The server refused a search with 400 (strict handling): it does not support it."""


@dataclass
class Result:
    """A search followed through every page."""

    matches: list[dict[str, Any]] = field(default_factory=list)
    includes: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {r["id"] for r in self.matches}

    @property
    def order(self) -> list[str]:
        return [r["id"] for r in self.matches]

    @property
    def total(self) -> int | None:
        total = self.pages[0].get("total") if self.pages else None
        return None if total is None else int(total)


@dataclass
class Server:
    """One server under test."""

    name: str
    client: httpx.Client
    capability: dict[str, Any]

    def declares(self, resource_type: str, param: str) -> bool:
        """Whether its CapabilityStatement lists ``param`` for ``resource_type``."""
        for resource in self.capability["rest"][0]["resource"]:
            if resource["type"] == resource_type:
                return any(p["name"] == param for p in resource.get("searchParam", []))
        return False

    def declared_type(self, resource_type: str, param: str) -> str | None:
        for resource in self.capability["rest"][0]["resource"]:
            if resource["type"] == resource_type:
                for p in resource.get("searchParam", []):
                    if p["name"] == param:
                        return str(p["type"])
        return None

    def get(self, path: str, params: Params | None = None) -> httpx.Response:
        return self.client.get(path, params=params)

    def search(self, path: str, params: Params, *, count: int = 1000) -> Result:
        """Run a search and follow ``next`` links; a 400 raises :class:`Unsupported`.

        Asserts what any conformant answer must hold: a searchset, no id twice across
        pages, no page larger than ``_count``, and ``total`` equal to the matches found.
        """
        if not any(k == "_count" for k, _ in params):
            params = [*params, ("_count", str(count))]
        page_size = int(next(v for k, v in params if k == "_count"))
        response = self.client.get(path, params=params)
        result = Result()
        while True:
            if response.status_code == 400:
                raise Unsupported(response.json()["issue"][0].get("diagnostics", ""))
            assert response.status_code == 200, (self.name, path, response.text[:300])
            bundle = response.json()
            assert bundle["resourceType"] == "Bundle"
            assert bundle["type"] == "searchset"
            result.pages.append(bundle)
            entries = bundle.get("entry", [])
            matches = [e["resource"] for e in entries if e["search"]["mode"] == "match"]
            assert len(matches) <= page_size, (self.name, path, len(matches), page_size)
            result.matches.extend(matches)
            result.includes.extend(
                e["resource"] for e in entries if e["search"]["mode"] == "include"
            )
            following = [
                link["url"] for link in bundle.get("link", []) if link["relation"] == "next"
            ]
            if not following:
                break
            response = self.client.get(following[0])
        keys = [(r["resourceType"], r["id"]) for r in result.matches]
        assert len(keys) == len(set(keys)), f"{self.name}: a resource came back twice"
        if result.total is not None:
            assert result.total == len(result.matches), (self.name, path, params)
        return result

    def ids(self, path: str, params: Params) -> set[str]:
        return self.search(path, params).ids

"""Choosing the patient a session is bound to, by id or by name.

This runs before a session exists, on behalf of the user (never the model): a front end
turns what the user typed into one Patient id, or a clear error listing the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.fhir import FHIRClient, FHIRGone, FHIRNotFound

__all__ = ["PatientChoice", "PatientLookupError", "describe_patient", "find_patient"]

_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class PatientLookupError(LookupError):
    """No single patient matches; ``candidates`` holds close matches to suggest."""

    def __init__(self, message: str, candidates: list[PatientChoice]) -> None:
        super().__init__(message)
        self.candidates = candidates


@dataclass(frozen=True)
class PatientChoice:
    """A patient as shown in a picker."""

    id: str
    name: str
    gender: str
    birth_date: str

    def label(self) -> str:
        """One line: name, gender, birth date and id."""
        return f"{self.name} ({self.gender}, born {self.birth_date}) id {self.id}"


def describe_patient(resource: dict[str, Any]) -> PatientChoice:
    """Picker fields of a Patient resource."""
    names = resource.get("name") or [{}]
    name = " ".join([*(names[0].get("given") or []), str(names[0].get("family", ""))]).strip()
    return PatientChoice(
        id=str(resource.get("id", "")),
        name=name or "(no name)",
        gender=str(resource.get("gender", "unknown")),
        birth_date=str(resource.get("birthDate", "?")),
    )


async def _by_name(client: FHIRClient, words: list[str], limit: int) -> list[PatientChoice]:
    found: dict[str, PatientChoice] = {}
    # All words must match some name part (FHIR `name` is a starts-with string search);
    # repeated `name` parameters are ANDed by the server.
    page = await client.search("Patient", [*(("name", w) for w in words), ("_count", str(limit))])
    for entry in page.get("entry") or []:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Patient":
            found[str(res.get("id"))] = describe_patient(res)
    if not found and len(words) > 1:
        for word in words:
            page = await client.search("Patient", [("name", word), ("_count", str(limit))])
            for entry in page.get("entry") or []:
                res = entry.get("resource") or {}
                if res.get("resourceType") == "Patient":
                    found.setdefault(str(res.get("id")), describe_patient(res))
    return sorted(found.values(), key=lambda c: (c.name, c.id))[:limit]


def _id_like(text: str) -> bool:
    return bool(_ID_RE.match(text)) and any(ch.isdigit() or ch == "-" for ch in text)


async def find_patient(client: FHIRClient, text: str, *, limit: int = 10) -> PatientChoice:
    """The one patient ``text`` names: an id, or words of the name.

    An id that does not exist is never silently swapped for a name match: the close name
    matches are offered as suggestions instead.

    Raises:
        PatientLookupError: nothing matches, or several do (with the candidates).
    """
    query = text.strip()
    if not query:
        raise PatientLookupError("no patient given", [])
    if _ID_RE.match(query):
        try:
            return describe_patient(await client.read("Patient", query))
        except (FHIRNotFound, FHIRGone):
            pass
    words = [w for w in re.split(r"[\s,]+", query) if w and not _id_like(w)]
    candidates = await _by_name(client, words, limit) if words else []
    if not _id_like(query):
        exact = [c for c in candidates if c.name.lower() == " ".join(words).lower()]
        if len(exact) == 1:
            return exact[0]
        if len(candidates) == 1:
            return candidates[0]
    if not candidates:
        raise PatientLookupError(f"no patient with id or name {query!r}", [])
    listing = "\n  ".join(c.label() for c in candidates)
    if _id_like(query):
        raise PatientLookupError(
            f"no patient with id {query!r}; patients with a similar name:\n  {listing}", candidates
        )
    raise PatientLookupError(f"{query!r} matches several patients:\n  {listing}", candidates)

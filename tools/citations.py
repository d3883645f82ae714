"""Short citation handles for the prompt, mapped back to exact ``Type/id`` references.

A Synthea id is a 36-character UUID, about 30 tokens once the digits are split, and small
models copy them badly. In the prompt each retrieved resource therefore gets a short
handle such as ``O12`` (the 12th Observation seen in this session); answers cite
handles, and :meth:`CitationRegistry.resolve` turns them back into ``Observation/<id>``.
Only resources a tool actually returned get a handle, so a handle that does not resolve
is a citation of evidence that was never retrieved.
"""

from __future__ import annotations

import re
import threading

__all__ = ["CITATION_PATTERN", "CitationRegistry", "cited_refs", "handle_prefix"]

_PREFIX: dict[str, str] = {
    "Observation": "O",
    "Condition": "C",
    "MedicationRequest": "M",
    "Encounter": "E",
    "Procedure": "P",
    "Immunization": "I",
    "AllergyIntolerance": "A",
    "DiagnosticReport": "D",
    "DocumentReference": "DOC",
    "CarePlan": "CP",
    "ImagingStudy": "IS",
    "Media": "MD",
    "Binary": "B",
    "Patient": "PT",
    "Organization": "ORG",
    "Practitioner": "PR",
    "Goal": "G",
    "Claim": "CL",
    "ExplanationOfBenefit": "EOB",
    "Medication": "MED",
}

#: Anything between square brackets that looks like a handle or a Type/id reference.
CITATION_PATTERN = re.compile(r"\[([A-Za-z]+(?:\d+|/[A-Za-z0-9\-.]{1,64}))\]")


def handle_prefix(resource_type: str) -> str:
    """The handle prefix of a resource type (unknown types use their own name)."""
    return _PREFIX.get(resource_type, resource_type)


class CitationRegistry:
    """Assigns handles to references in first-seen order and resolves them back."""

    def __init__(self, *, style: str = "short") -> None:
        """Create an empty registry.

        Args:
            style: ``"short"`` renders handles (``O12``); ``"full"`` renders ``Type/id``.
        """
        if style not in ("short", "full"):
            raise ValueError(f"citation style must be 'short' or 'full', not {style!r}")
        self.style = style
        self._lock = threading.Lock()
        self._by_ref: dict[str, str] = {}
        self._by_handle: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def handle(self, ref: str) -> str:
        """The handle of ``Type/id``, assigning the next one for its type if new."""
        with self._lock:
            existing = self._by_ref.get(ref)
            if existing is not None:
                return existing
            prefix = handle_prefix(ref.split("/", 1)[0])
            number = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = number
            handle = f"{prefix}{number}"
            self._by_ref[ref] = handle
            self._by_handle[handle] = ref
            return handle

    def cite(self, ref: str) -> str:
        """The bracketed citation of ``ref`` in this registry's style: ``[O12]``."""
        handle = self.handle(ref)
        return f"[{ref}]" if self.style == "full" else f"[{handle}]"

    def resolve(self, citation: str) -> str | None:
        """``Type/id`` for a handle or a known reference (brackets optional), else None."""
        token = citation.strip().strip("[]").strip()
        with self._lock:
            if token in self._by_handle:
                return self._by_handle[token]
            if token.upper() in self._by_handle:
                return self._by_handle[token.upper()]
            if token in self._by_ref:
                return token
        return None

    def restore(self, handles: dict[str, str]) -> None:
        """Re-issue handles saved from an earlier process (a resumed conversation)."""
        with self._lock:
            for handle, ref in handles.items():
                self._by_ref[ref] = handle
                self._by_handle[handle] = ref
                prefix = handle.rstrip("0123456789")
                number = int(handle[len(prefix) :] or 0)
                self._counters[prefix] = max(self._counters.get(prefix, 0), number)

    def known(self) -> dict[str, str]:
        """Every handle assigned so far, mapped to its reference."""
        with self._lock:
            return dict(self._by_handle)

    def __contains__(self, ref: object) -> bool:
        with self._lock:
            return ref in self._by_ref


def cited_refs(text: str, registry: CitationRegistry) -> list[str]:
    """``Type/id`` of every citation in ``text`` that the registry knows, in order."""
    out: list[str] = []
    for match in CITATION_PATTERN.finditer(text):
        ref = registry.resolve(match.group(1))
        if ref is not None and ref not in out:
            out.append(ref)
    return out

"""The code index of one patient's record: which concepts appear, how often, and when.

Built once per session from condensed records (see :mod:`tools.session`), it backs the
record overview, concept resolution and the timeline. It holds codes, displays, dates and
counts, never values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tools.records import EvidenceRecord

__all__ = ["CodeEntry", "RecordIndex", "TypeSummary"]


@dataclass(frozen=True)
class CodeEntry:
    """One distinct code of one resource type in the record."""

    resource_type: str
    system: str
    code: str
    display: str
    count: int
    first: str | None
    last: str | None
    #: ``system|code`` of panels that carry this code as a component (blood pressure).
    component_of: tuple[str, ...] = ()

    @property
    def token(self) -> str:
        """``system|code``."""
        return f"{self.system}|{self.code}"


@dataclass(frozen=True)
class TypeSummary:
    """Count and date span of one resource type in the record."""

    resource_type: str
    count: int
    first: str | None
    last: str | None


@dataclass
class _Acc:
    count: int = 0
    first: str | None = None
    last: str | None = None
    displays: Counter[str] = field(default_factory=Counter)
    component_of: set[str] = field(default_factory=set)

    def add(self, date: str | None, display: str) -> None:
        self.count += 1
        if display:
            self.displays[display] += 1
        if date:
            if self.first is None or date < self.first:
                self.first = date
            if self.last is None or date > self.last:
                self.last = date


class RecordIndex:
    """Distinct codes per resource type, with counts and first/last dates."""

    def __init__(self, records: Iterable[EvidenceRecord]) -> None:
        """Index ``records`` (condensed resources of one patient)."""
        by_code: dict[tuple[str, str, str], _Acc] = {}
        by_type: dict[str, _Acc] = {}
        self.records: list[EvidenceRecord] = []
        for rec in records:
            self.records.append(rec)
            by_type.setdefault(rec.resource_type, _Acc()).add(rec.date, "")
            for coding in rec.codes:
                key = (rec.resource_type, coding.system, coding.code)
                by_code.setdefault(key, _Acc()).add(rec.date, coding.display or rec.display)
            for comp in rec.components:
                for coding in comp.codes:
                    key = (rec.resource_type, coding.system, coding.code)
                    acc = by_code.setdefault(key, _Acc())
                    acc.add(rec.date, coding.display or comp.display)
                    acc.component_of.update(c.token for c in rec.codes)
        self.entries: list[CodeEntry] = [
            CodeEntry(
                resource_type=rt,
                system=system,
                code=code,
                display=acc.displays.most_common(1)[0][0] if acc.displays else code,
                count=acc.count,
                first=acc.first,
                last=acc.last,
                component_of=tuple(sorted(acc.component_of)),
            )
            for (rt, system, code), acc in by_code.items()
        ]
        self.entries.sort(key=lambda e: (e.resource_type, -e.count, e.display, e.code))
        self.types: dict[str, TypeSummary] = {
            rt: TypeSummary(rt, acc.count, acc.first, acc.last) for rt, acc in by_type.items()
        }
        self._by_ref = {rec.ref: rec for rec in self.records}

    def entries_of(self, resource_type: str) -> list[CodeEntry]:
        """Entries of one type, most frequent first."""
        return [e for e in self.entries if e.resource_type == resource_type]

    def record(self, ref: str) -> EvidenceRecord | None:
        """The indexed record for ``Type/id``, if the record holds it."""
        return self._by_ref.get(ref)

    def __contains__(self, ref: object) -> bool:
        return ref in self._by_ref

"""FHIR search parameters: an immutable builder and the one normaliser every search goes through.

Parameters are kept as ordered ``(name, value)`` pairs because FHIR gives repetition a meaning:
``date=ge2019-01-01&date=le2019-12-31`` is an AND of two conditions, while a comma inside one
value (``code=a,b``) is an OR. Every builder method returns a new object, so a base query can be
shared and refined without surprises::

    labs = SearchParams().where(patient="123", category="laboratory").sort("-date")
    hba1c = labs.where(code=token("4548-4", system="http://loinc.org")).date(ge="2019-01-01")
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from tools.fhir.errors import FHIRBadRequest

__all__ = ["ParamValue", "ParamsLike", "SearchParams", "escape", "normalize_params", "token"]

ParamValue: TypeAlias = str | int | float | Decimal | bool | date | datetime
"""A scalar search value; numbers, booleans and dates are written the FHIR way."""


# Names may carry modifiers and chains (code:text, subject:Patient.name, _has:Observation:...);
# characters that would split or end a query string are refused so a name can never smuggle
# in another parameter, even though the query is percent-encoded anyway.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.:|]*$")
# Lower bounds before upper bounds, whatever order the keywords were given in.
_DATE_PREFIXES = ("eq", "ne", "ge", "gt", "le", "lt", "sa", "eb", "ap")


def _value(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise TypeError(f"unsupported search value type {type(value).__name__}")


def _name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise FHIRBadRequest(f"invalid FHIR search parameter name {name!r}")
    return name


def escape(value: str) -> str:
    r"""Escape FHIR's search metacharacters (``\ , $ |``) so ``value`` is matched literally."""
    return re.sub(r"([\\,$|])", r"\\\1", value)


def token(code: str, *, system: str | None = None) -> str:
    """A token search value, ``system|code`` (or just ``code``), each part escaped."""
    return f"{escape(system)}|{escape(code)}" if system is not None else escape(code)


def normalize_params(params: ParamsLike) -> tuple[tuple[str, str], ...]:
    """Turn any accepted parameter form into validated ``(name, value)`` string pairs.

    Raises:
        FHIRBadRequest: a parameter name is not valid FHIR search syntax.
        TypeError: a value is None or of an unsupported type.
    """
    if params is None:
        return ()
    if isinstance(params, SearchParams):
        return params.pairs
    pairs: list[tuple[str, str]] = []
    if isinstance(params, Mapping):
        for name, value in params.items():
            values: Sequence[Any] = value if isinstance(value, list | tuple) else (value,)
            pairs.extend((_name(name), _value(v)) for v in values)
        return tuple(pairs)
    for item in params:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"search parameters must be (name, value) pairs, got {item!r}")
        pairs.append((_name(item[0]), _value(item[1])))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class SearchParams:
    """An immutable, ordered set of FHIR search parameters; every method returns a new one."""

    pairs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name, value in self.pairs:
            _name(name)
            if not isinstance(value, str):
                raise TypeError(f"search value for {name!r} must be a string")

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def get(self, name: str) -> list[str]:
        """All values of parameter ``name``, in order."""
        return [v for n, v in self.pairs if n == name]

    def add(self, name: str, value: ParamValue) -> SearchParams:
        """Append one parameter (repeating a name ANDs the conditions)."""
        return SearchParams((*self.pairs, (_name(name), _value(value))))

    def where(self, **params: ParamValue | Sequence[ParamValue]) -> SearchParams:
        """Append parameters given as keywords; ``__`` in a keyword stands for ``:``.

        ``where(code__text="glucose")`` sends ``code:text=glucose``; a sequence value repeats
        the parameter (AND). Names that are not identifiers (``value-quantity``) go through
        :meth:`add` or ``where(**{"value-quantity": "gt5"})``.
        """
        return SearchParams(
            (*self.pairs, *normalize_params({k.replace("__", ":"): v for k, v in params.items()}))
        )

    def any_of(self, name: str, *values: ParamValue) -> SearchParams:
        """Append one parameter matching any of ``values`` (FHIR's comma OR)."""
        if not values:
            raise ValueError("any_of needs at least one value")
        return self.add(name, ",".join(_value(v) for v in values))

    def without(self, name: str) -> SearchParams:
        """Drop every occurrence of parameter ``name``."""
        return SearchParams(tuple(p for p in self.pairs if p[0] != name))

    def replace(self, name: str, value: ParamValue) -> SearchParams:
        """Set parameter ``name`` to exactly one value."""
        return self.without(name).add(name, value)

    def date(
        self,
        name: str = "date",
        *,
        eq: ParamValue | None = None,
        ne: ParamValue | None = None,
        gt: ParamValue | None = None,
        lt: ParamValue | None = None,
        ge: ParamValue | None = None,
        le: ParamValue | None = None,
        sa: ParamValue | None = None,
        eb: ParamValue | None = None,
        ap: ParamValue | None = None,
    ) -> SearchParams:
        """Append date conditions; each given prefix becomes its own parameter (AND).

        ``.date(ge="2019-01-01", lt="2020-01-01")`` sends
        ``date=ge2019-01-01&date=lt2020-01-01``.
        """
        given = dict(zip(_DATE_PREFIXES, (eq, ne, ge, gt, le, lt, sa, eb, ap), strict=True))
        result = self
        for prefix, value in given.items():
            if value is not None:
                result = result.add(name, prefix + _value(value))
        return result

    def sort(self, *keys: str) -> SearchParams:
        """Set ``_sort`` (``"-date"`` sorts descending); replaces any previous sort."""
        return self.replace("_sort", ",".join(keys))

    def count(self, n: int) -> SearchParams:
        """Set ``_count``, the page size the server is asked for."""
        if n < 0:
            raise ValueError("_count must be >= 0")
        return self.replace("_count", n)

    def include(self, spec: str, *, iterate: bool = False) -> SearchParams:
        """Append ``_include`` (``"Observation:subject"``), optionally ``:iterate``."""
        return self.add("_include:iterate" if iterate else "_include", spec)

    def revinclude(self, spec: str, *, iterate: bool = False) -> SearchParams:
        """Append ``_revinclude`` (``"Provenance:target"``), optionally ``:iterate``."""
        return self.add("_revinclude:iterate" if iterate else "_revinclude", spec)

    def elements(self, *names: str) -> SearchParams:
        """Set ``_elements``: the server returns only these elements (marked SUBSETTED)."""
        return self.replace("_elements", ",".join(names))

    def summary(self, mode: str) -> SearchParams:
        """Set ``_summary`` (``true``, ``text``, ``data``, ``count``, ``false``)."""
        return self.replace("_summary", mode)

    def total(self, mode: str) -> SearchParams:
        """Set ``_total`` (``none``, ``estimate``, ``accurate``)."""
        return self.replace("_total", mode)


ParamsLike: TypeAlias = (
    SearchParams
    | Mapping[str, ParamValue | Sequence[ParamValue]]
    | Iterable[tuple[str, ParamValue]]
    | None
)
"""Anything a search accepts: a builder, a mapping (a sequence value repeats the parameter,
which FHIR reads as AND), or a sequence of pairs."""

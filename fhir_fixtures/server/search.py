"""FHIR R4 search: parsing query parameters and compiling them into bounded SQL.

Semantics follow hl7.org/fhir/R4/search.html: comma-separated values are ORed, repeated
parameters are ANDed; token ``system|code`` forms; date prefixes compare the search range with
the indexed range (``eq`` contained in, ``gt`` range above overlaps, ``ge`` = ``gt`` or ``eq``,
``sa``/``eb`` strictly after/before, ``ap`` within 10 % of the distance to now); numbers and
quantities match ``eq`` within the precision of the search value; strings match
case- and accent-insensitively from the start unless ``:exact``/``:contains``.

Every query carries ``LIMIT``; included resources are capped at :data:`MAX_INCLUDES`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_fixtures.server.errors import InvalidRequest
from fhir_fixtures.server.indexing import parse_reference
from fhir_fixtures.server.search_params import ResourceDef, SearchParam
from fhir_fixtures.server.values import (
    normalize_string,
    number_range,
    parse_date_range,
    parse_number,
)

__all__ = [
    "CONTROL_PARAMS",
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "MAX_INCLUDES",
    "CompiledSearch",
    "compile_search",
    "split_values",
]

DEFAULT_COUNT = 50
MAX_COUNT = 1000
MAX_INCLUDES = 1000

CONTROL_PARAMS = (
    "_count",
    "_offset",
    "_sort",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_total",
    "_format",
    "_pretty",
)
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIX_RE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+.\d])")
_MODIFIERS: dict[str, tuple[str, ...]] = {
    "token": ("missing", "not", "text"),
    "string": ("missing", "exact", "contains"),
    "date": ("missing",),
    "quantity": ("missing",),
    "reference": ("missing",),
}
_SUMMARY_VALUES = ("count", "data", "false")


@dataclass
class CompiledSearch:
    """A parsed search ready to run.

    Attributes:
        resource_type: the type searched.
        where: SQL conditions on ``resources r`` (ANDed), with ``args`` in order.
        order_by: the ORDER BY expression list (always ends with the id tiebreak), with
            ``order_args`` bound in order.
        count: page size; ``offset``: rows skipped.
        summary: ``count``, ``data`` or None; ``elements``: top-level elements to keep.
        total_mode: ``accurate`` or ``none``.
        includes: ``(reference paths, target type or None)`` for ``_include``.
        revincludes: ``(source type, reference paths)`` for ``_revinclude``.
        used: the parameters applied, as ``(key, value)`` pairs for the self link.
        ignored: messages about parameters that were ignored (lenient handling).
    """

    resource_type: str
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    order_by: str = "r.id"
    order_args: list[Any] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    summary: str | None = None
    elements: list[str] = field(default_factory=list)
    total_mode: str = "accurate"
    includes: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)
    revincludes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    used: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    drives_by_patient: bool = False


def split_values(raw: str) -> list[str]:
    r"""Split a parameter value on unescaped commas and unescape ``\\,``, ``\\|``, ``\\$``."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in ",|$\\" else "\\" + nxt)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _split_token(value: str) -> tuple[str | None, str | None]:
    """``(system, code)``; system None means any system, "" means no system."""
    idx = -1
    escaped = False
    for i, ch in enumerate(value):
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if ch == "|" and not escaped:
            idx = i
            break
        escaped = False
    if idx < 0:
        return None, value
    system, code = value[:idx], value[idx + 1 :]
    return system, (code or None)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Compiler:
    def __init__(self, definition: ResourceDef, *, strict: bool) -> None:
        self.definition = definition
        self.strict = strict
        self.out = CompiledSearch(definition.name)
        self._positive_driver_used = False

    def unknown(self, message: str) -> None:
        if self.strict:
            raise InvalidRequest(message, expression="search")
        self.out.ignored.append(message)

    def add(self, clause: str, args: Sequence[Any]) -> None:
        self.out.where.append(clause)
        self.out.args.extend(args)

    def keys(self, param: SearchParam, suffix: str = "") -> list[str]:
        """The index ``param`` values a search parameter matches."""
        return [f"{self.definition.name}.{name}{suffix}" for name in param.index_names()]

    def exists(
        self, table: str, alias: str, keys: Sequence[str], cond: str, args: Sequence[Any]
    ) -> None:
        # Without a patient, the first index condition drives the query (IN); with one, the
        # patient's rows drive it and each condition is a cheap per-row probe (EXISTS).
        key_cond = (
            f"{alias}.param=?"
            if len(keys) == 1
            else (f"{alias}.param IN ({','.join('?' * len(keys))})")
        )
        if not self.out.drives_by_patient and not self._positive_driver_used:
            self._positive_driver_used = True
            clause = (
                f"r.rid IN (SELECT {alias}.rid FROM {table} {alias} WHERE {key_cond} AND ({cond}))"
            )
        else:
            clause = (
                f"EXISTS (SELECT 1 FROM {table} {alias} WHERE {alias}.rid=r.rid "
                f"AND {key_cond} AND ({cond}))"
            )
        self.add(clause, [*keys, *args])

    # --- parameter kinds -------------------------------------------------------------

    def token(self, param: SearchParam, modifier: str | None, values: list[str]) -> None:
        if modifier == "text":
            text_conds: list[str] = []
            text_args: list[Any] = []
            for value in values:
                norm = _like_escape(normalize_string(value))
                text_conds.append("(s.norm LIKE ? ESCAPE '\\' OR s.norm LIKE ? ESCAPE '\\')")
                text_args.extend([norm + "%", "% " + norm + "%"])
            self.exists(
                "strings", "s", self.keys(param, ":text"), " OR ".join(text_conds), text_args
            )
            return
        conds: list[str] = []
        args: list[Any] = []
        for value in values:
            system, code = _split_token(value)
            if code is None and not system:
                raise InvalidRequest(f"empty token value for {param.name!r}")
            if system is None:
                conds.append("t.code=?")
                args.append(code)
            elif code is None:
                conds.append("t.system=?")
                args.append(system)
            else:
                conds.append("(t.code=? AND t.system=?)")
                args.extend([code, system])
        cond = " OR ".join(conds)
        keys = self.keys(param)
        if modifier == "not":
            marks = ",".join("?" * len(keys))
            self.add(
                "NOT EXISTS (SELECT 1 FROM tokens t WHERE t.rid=r.rid "
                f"AND t.param IN ({marks}) AND ({cond}))",
                [*keys, *args],
            )
        else:
            self.exists("tokens", "t", keys, cond, args)

    def string(self, param: SearchParam, modifier: str | None, values: list[str]) -> None:
        conds: list[str] = []
        args: list[Any] = []
        for value in values:
            if modifier == "exact":
                conds.append("s.value=?")
                args.append(value)
            elif modifier == "contains":
                conds.append("s.norm LIKE ? ESCAPE '\\'")
                args.append("%" + _like_escape(normalize_string(value)) + "%")
            else:
                norm = normalize_string(value)
                conds.append("(s.norm >= ? AND s.norm < ?)")
                args.extend([norm, norm + "\U0010ffff"])
        self.exists("strings", "s", self.keys(param), " OR ".join(conds), args)

    def date(self, param: SearchParam | None, values: list[str]) -> None:
        conds: list[str] = []
        args: list[Any] = []
        column_lo, column_hi = ("d.lo", "d.hi") if param is not None else ("r.lu", "(r.lu + 0.001)")
        for value in values:
            prefix, text = _prefix(value)
            try:
                low, high = parse_date_range(text)
            except ValueError as exc:
                name = param.name if param is not None else "_lastUpdated"
                raise InvalidRequest(f"invalid date for {name!r}: {exc}") from None
            cond, cargs = _date_condition(prefix, low, high, column_lo, column_hi)
            conds.append(cond)
            args.extend(cargs)
        cond = " OR ".join(conds)
        if param is None:
            self.add(f"({cond})", args)
        else:
            self.exists("dates", "d", self.keys(param), cond, args)

    def quantity(self, param: SearchParam, values: list[str]) -> None:
        conds: list[str] = []
        args: list[Any] = []
        for value in values:
            prefix, rest = _prefix(value)
            number_text, system, code = _split_quantity(rest)
            try:
                number = parse_number(number_text)
            except ValueError as exc:
                raise InvalidRequest(f"invalid quantity for {param.name!r}: {exc}") from None
            cond, number_args = _number_condition(prefix, number_text, float(number), "q.value")
            cargs: list[Any] = list(number_args)
            if code:
                if system:
                    cond += " AND q.system=? AND q.code=?"
                    cargs.extend([system, code])
                else:
                    cond += " AND (q.code=? OR q.unit=?)"
                    cargs.extend([code, code])
            elif system:
                cond += " AND q.system=?"
                cargs.append(system)
            conds.append(f"({cond})")
            args.extend(cargs)
        self.exists("quantities", "q", self.keys(param), " OR ".join(conds), args)

    def reference(self, param: SearchParam, modifier: str | None, values: list[str]) -> None:
        targets: list[tuple[str | None, str]] = []
        for value in values:
            parsed = parse_reference(value) if "/" in value else None
            if parsed is not None:
                target_type: str | None = parsed[0]
                target_id = parsed[1]
            elif "/" in value or not value:
                raise InvalidRequest(f"invalid reference for {param.name!r}: {value!r}")
            else:
                target_type, target_id = None, value
            if modifier is not None:
                if target_type is not None and target_type != modifier:
                    raise InvalidRequest(f"{param.name}:{modifier} cannot match {value!r}")
                target_type = modifier
            if target_type is None and len(param.targets) == 1:
                target_type = param.targets[0]
            if param.targets and target_type is not None and target_type not in param.targets:
                raise InvalidRequest(
                    f"{param.name!r} references {', '.join(param.targets)}, not {target_type}"
                )
            targets.append((target_type, target_id))

        patient_path = self.definition.patient_paths[:1]
        if patient_path and param.paths == patient_path and all(t == "Patient" for t, _ in targets):
            marks = ",".join("?" * len(targets))
            self.add(f"r.patient IN ({marks})", [i for _, i in targets])
            self.out.drives_by_patient = True
            return
        path_marks = ",".join("?" * len(param.paths))
        conds, args = [], []
        for target_type, target_id in targets:
            if target_type is None:
                conds.append("f.tid=?")
                args.append(target_id)
            else:
                conds.append("(f.tid=? AND f.ttype=?)")
                args.extend([target_id, target_type])
        cond = " OR ".join(conds)
        if not self.out.drives_by_patient and not self._positive_driver_used:
            self._positive_driver_used = True
            clause = (
                f"r.rid IN (SELECT f.rid FROM refs f WHERE ({cond}) AND f.path IN ({path_marks}))"
            )
            self.add(clause, [*args, *param.paths])
        else:
            clause = (
                f"EXISTS (SELECT 1 FROM refs f WHERE f.rid=r.rid AND f.path IN ({path_marks}) "
                f"AND ({cond}))"
            )
            self.add(clause, [*param.paths, *args])

    def missing(self, param: SearchParam, value: str) -> None:
        if value not in ("true", "false"):
            raise InvalidRequest(f"{param.name}:missing takes true or false, not {value!r}")
        if param.type == "reference":
            marks = ",".join("?" * len(param.paths))
            sub = f"SELECT 1 FROM refs f WHERE f.rid=r.rid AND f.path IN ({marks})"
            args: list[Any] = list(param.paths)
        else:
            table = {"token": "tokens", "string": "strings", "date": "dates"}.get(
                param.type, "quantities"
            )
            keys = self.keys(param)
            sub = (
                f"SELECT 1 FROM {table} x WHERE x.rid=r.rid "
                f"AND x.param IN ({','.join('?' * len(keys))})"
            )
            args = list(keys)
        self.add(f"{'NOT ' if value == 'true' else ''}EXISTS ({sub})", args)


def _prefix(value: str) -> tuple[str, str]:
    match = _PREFIX_RE.match(value)
    if match is None:
        return "eq", value
    return match.group(1), value[2:]


def _split_quantity(text: str) -> tuple[str, str | None, str | None]:
    parts = text.split("|")
    if len(parts) == 1:
        return parts[0], None, None
    if len(parts) != 3:
        raise InvalidRequest(f"quantity must be [prefix]number[|system|code], got {text!r}")
    return parts[0], parts[1] or None, parts[2] or None


def _date_condition(
    prefix: str, low: float, high: float, col_lo: str, col_hi: str
) -> tuple[str, list[float]]:
    contained = f"({col_lo} >= ? AND {col_hi} <= ?)"
    if prefix == "eq":
        return contained, [low, high]
    if prefix == "ne":
        return f"NOT {contained}", [low, high]
    if prefix == "gt":
        return f"{col_hi} > ?", [high]
    if prefix == "lt":
        return f"{col_lo} < ?", [low]
    if prefix == "ge":
        return f"({col_hi} > ? OR {contained})", [high, low, high]
    if prefix == "le":
        return f"({col_lo} < ? OR {contained})", [low, low, high]
    if prefix == "sa":
        return f"{col_lo} >= ?", [high]
    if prefix == "eb":
        return f"{col_hi} <= ?", [low]
    # ap: overlap with the search range widened by 10 % of its distance from now.
    margin = max(abs(time.time() - low) * 0.1, 86400.0)
    return f"({col_lo} < ? AND {col_hi} > ?)", [high + margin, low - margin]


def _number_condition(
    prefix: str, text: str, number: float, column: str
) -> tuple[str, list[float]]:
    if prefix in ("eq", "ne"):
        low, high = number_range(parse_number(text))
        cond = f"({column} >= ? AND {column} < ?)"
        return (cond if prefix == "eq" else f"NOT {cond}"), [low, high]
    if prefix == "ap":
        margin = abs(number) * 0.1
        return f"({column} >= ? AND {column} <= ?)", [number - margin, number + margin]
    operator = {"gt": ">", "sa": ">", "lt": "<", "eb": "<", "ge": ">=", "le": "<="}[prefix]
    return f"{column} {operator} ?", [number]


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a non-negative integer, got {value!r}") from None
    if number < 0:
        raise InvalidRequest(f"{name} must be a non-negative integer, got {value!r}")
    return number


def compile_search(
    definition: ResourceDef,
    params: Sequence[tuple[str, str]],
    *,
    strict: bool,
    types: dict[str, ResourceDef],
) -> CompiledSearch:
    """Parse search parameters for one type into SQL conditions and paging controls.

    Args:
        definition: the type searched.
        params: query parameters in order (repeated keys allowed).
        strict: ``Prefer: handling=strict``: unknown parameters are errors, not ignored.
        types: every stored type, to resolve ``_include``/``_revinclude`` targets.

    Raises:
        InvalidRequest: an invalid value, an unsupported modifier, or (strict) an unknown
            parameter.
    """
    compiler = _Compiler(definition, strict=strict)
    out = compiler.out
    # Patient first: it lets every other condition run as a cheap per-row probe.
    ordered = sorted(params, key=lambda kv: kv[0].split(":")[0] not in ("patient", "subject"))
    for key, raw in ordered:
        name, _, modifier_text = key.partition(":")
        modifier = modifier_text or None
        if name in CONTROL_PARAMS:
            _control(compiler, name, modifier, raw, types)
            continue
        if name == "_id":
            if modifier is not None:
                raise InvalidRequest(f"modifier :{modifier} is not supported on _id")
            ids = split_values(raw)
            out.where.append(f"r.id IN ({','.join('?' * len(ids))})")
            out.args.extend(ids)
            out.used.append((key, raw))
            continue
        if name == "_lastUpdated":
            if modifier is not None:
                raise InvalidRequest(f"modifier :{modifier} is not supported on _lastUpdated")
            compiler.date(None, split_values(raw))
            out.used.append((key, raw))
            continue
        param = definition.params.get(name)
        if param is None:
            compiler.unknown(f"unknown search parameter {key!r} for {definition.name}")
            continue
        allowed = _MODIFIERS.get(param.type, ("missing",))
        if modifier is not None and modifier not in allowed:
            is_type_modifier = param.type == "reference" and modifier[:1].isupper()
            if not is_type_modifier:
                raise InvalidRequest(
                    f"modifier :{modifier} is not supported on {name!r} ({param.type})",
                    expression=key,
                )
        values = split_values(raw)
        if modifier == "missing":
            compiler.missing(param, raw)
        elif param.type == "token":
            compiler.token(param, modifier, values)
        elif param.type == "string":
            compiler.string(param, modifier, values)
        elif param.type == "date":
            compiler.date(param, values)
        elif param.type == "quantity":
            compiler.quantity(param, values)
        elif param.type == "reference":
            compiler.reference(param, modifier, values)
        out.used.append((key, raw))
    return out


def _control(
    compiler: _Compiler, name: str, modifier: str | None, raw: str, types: dict[str, ResourceDef]
) -> None:
    out = compiler.out
    definition = compiler.definition
    if modifier is not None:
        compiler.unknown(f"unsupported parameter {name}:{modifier}")
        return
    if name in ("_format", "_pretty"):
        return
    if name == "_count":
        out.count = min(_positive_int("_count", raw), MAX_COUNT)
    elif name == "_offset":
        out.offset = _positive_int("_offset", raw)
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise InvalidRequest(f"_total must be none, estimate or accurate, not {raw!r}")
        out.total_mode = "none" if raw == "none" else "accurate"
        out.used.append((name, raw))
    elif name == "_summary":
        if raw not in _SUMMARY_VALUES:
            compiler.unknown(f"_summary={raw} is not supported (count, data, false are)")
            return
        out.summary = None if raw == "false" else raw
        out.used.append((name, raw))
    elif name == "_elements":
        out.elements = [e.strip() for e in raw.split(",") if e.strip()]
        out.used.append((name, raw))
    elif name == "_sort":
        _sort(compiler, raw)
    elif name == "_include":
        if raw == "*":
            out.includes.append(((), None))
            out.used.append((name, raw))
            return
        parts = raw.split(":")
        param = definition.params.get(parts[1]) if len(parts) in (2, 3) else None
        if parts[0] != definition.name or param is None or param.type != "reference":
            compiler.unknown(f"_include={raw} is not supported for {definition.name}")
            return
        target = parts[2] if len(parts) == 3 else None
        if target is not None and target not in types:
            compiler.unknown(f"_include={raw}: unknown target type {target}")
            return
        out.includes.append((param.paths, target))
        out.used.append((name, raw))
    elif name == "_revinclude":
        parts = raw.split(":")
        source = types.get(parts[0]) if len(parts) in (2, 3) else None
        param = source.params.get(parts[1]) if source is not None else None
        if source is None or param is None or param.type != "reference":
            compiler.unknown(f"_revinclude={raw} is not supported")
            return
        out.revincludes.append((source.name, param.paths))
        out.used.append((name, raw))


def _sort(compiler: _Compiler, raw: str) -> None:
    out = compiler.out
    definition = compiler.definition
    keys: list[str] = []
    key_args: list[Any] = []
    args_note: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        descending = item.startswith("-")
        field_name = item[1:] if descending else item
        direction = " DESC" if descending else ""
        if field_name == "_lastUpdated":
            keys.append("r.lu" + direction)
        elif field_name == "_id":
            keys.append("r.id" + direction)
        elif definition.date_param is not None and field_name in ("date", definition.date_param):
            keys.append("r.date_key" + direction)
        elif field_name in definition.params and definition.params[field_name].type == "date":
            keys.append(
                "(SELECT MIN(d.lo) FROM dates d WHERE d.rid=r.rid AND d.param=?)" + direction
            )
            key_args.append(f"{definition.name}.{field_name}")
        else:
            compiler.unknown(f"_sort={item} is not supported for {definition.name}")
            continue
        args_note.append(item)
    if keys:
        out.order_by = ", ".join([*keys, "r.id"])
        out.order_args = key_args
        out.used.append(("_sort", ",".join(args_note)))

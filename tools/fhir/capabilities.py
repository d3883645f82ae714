"""What a server says it can do: a summary of its CapabilityStatement (``GET [base]/metadata``).

Callers ask before they rely on something optional, e.g.
``caps.supports("Observation", "value-quantity")`` or ``caps.supports_operation("everything",
"Patient")``. A server may support more than it declares; this summary answers only for what
is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["CapabilityStatement", "ResourceSupport", "parse_capability_statement"]

_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@dataclass(frozen=True, slots=True)
class ResourceSupport:
    """What the server declares for one resource type."""

    type: str
    interactions: frozenset[str]
    search_params: frozenset[str]
    operations: frozenset[str]
    search_include: frozenset[str]
    search_revinclude: frozenset[str]


@dataclass(frozen=True, slots=True)
class CapabilityStatement:
    """The parts of a CapabilityStatement the agent and ``ehr-agent doctor`` use.

    Attributes:
        fhir_version: ``fhirVersion`` (``4.0.1`` for R4).
        software_name: ``software.name``.
        software_version: ``software.version``.
        implementation_url: ``implementation.url``.
        formats: declared mime types.
        resources: per resource type, what is supported.
        system_interactions: ``transaction``, ``batch``, ``search-system``, ``history-system``.
        system_operations: operation names at system level (without ``$``).
        token_url: the OAuth token endpoint from the SMART ``oauth-uris`` security extension.
        raw: the CapabilityStatement as received.
    """

    fhir_version: str | None
    software_name: str | None
    software_version: str | None
    implementation_url: str | None
    formats: tuple[str, ...]
    resources: Mapping[str, ResourceSupport]
    system_interactions: frozenset[str]
    system_operations: frozenset[str]
    token_url: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_r4(self) -> bool:
        """Whether the server speaks FHIR R4 (4.0.x)."""
        return bool(self.fhir_version and self.fhir_version.startswith("4.0"))

    @property
    def software(self) -> str | None:
        """``name version`` of the server software, as declared."""
        parts = [p for p in (self.software_name, self.software_version) if p]
        return " ".join(parts) or None

    def supports(
        self, resource_type: str, search_param: str | None = None, *, interaction: str | None = None
    ) -> bool:
        """Whether ``resource_type`` is declared, with ``search_param`` and ``interaction``.

        A modifier or chain on the parameter is ignored (``code:text`` asks about ``code``).
        Result parameters such as ``_count`` or ``_sort`` are not search parameters and are
        never listed, so they are not answered here.
        """
        support = self.resources.get(resource_type)
        if support is None:
            return False
        if search_param is not None:
            base = search_param.split(":", 1)[0].split(".", 1)[0]
            if base not in support.search_params:
                return False
        return interaction is None or interaction in support.interactions

    def supports_operation(self, name: str, resource_type: str | None = None) -> bool:
        """Whether operation ``name`` (with or without ``$``) is declared.

        With ``resource_type`` the operation must be declared on that type or at system level.
        """
        name = name.lstrip("$")
        if name in self.system_operations:
            return True
        if resource_type is None:
            return any(name in r.operations for r in self.resources.values())
        support = self.resources.get(resource_type)
        return support is not None and name in support.operations


def _strings(values: Any, key: str | None = None) -> frozenset[str]:
    out = set()
    for value in values or ():
        item = value.get(key) if key is not None and isinstance(value, dict) else value
        if isinstance(item, str):
            out.add(item.lstrip("$") if key == "name" else item)
    return frozenset(out)


def _token_url(security: Any) -> str | None:
    if not isinstance(security, dict):
        return None
    for ext in security.get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") == _OAUTH_URIS:
            for sub in ext.get("extension") or ():
                if isinstance(sub, dict) and sub.get("url") == "token":
                    value = sub.get("valueUri") or sub.get("valueUrl")
                    return value if isinstance(value, str) else None
    return None


def parse_capability_statement(raw: Mapping[str, Any]) -> CapabilityStatement:
    """Summarise a CapabilityStatement resource (the server-mode ``rest`` entry is used)."""
    rests = [r for r in raw.get("rest") or () if isinstance(r, dict)]
    rest = next((r for r in rests if r.get("mode") == "server"), rests[0] if rests else {})
    resources: dict[str, ResourceSupport] = {}
    for res in rest.get("resource") or ():
        if not isinstance(res, dict) or not isinstance(res.get("type"), str):
            continue
        resources[res["type"]] = ResourceSupport(
            type=res["type"],
            interactions=_strings(res.get("interaction"), "code"),
            search_params=_strings(res.get("searchParam"), "name"),
            operations=_strings(res.get("operation"), "name"),
            search_include=_strings(res.get("searchInclude")),
            search_revinclude=_strings(res.get("searchRevInclude")),
        )
    software: Mapping[str, Any] = raw.get("software") or {}
    implementation: Mapping[str, Any] = raw.get("implementation") or {}
    if not isinstance(software, Mapping):
        software = {}
    if not isinstance(implementation, Mapping):
        implementation = {}
    return CapabilityStatement(
        fhir_version=raw.get("fhirVersion") if isinstance(raw.get("fhirVersion"), str) else None,
        software_name=software.get("name"),
        software_version=software.get("version"),
        implementation_url=implementation.get("url"),
        formats=tuple(f for f in raw.get("format") or () if isinstance(f, str)),
        resources=MappingProxyType(resources),
        system_interactions=_strings(rest.get("interaction"), "code"),
        system_operations=_strings(rest.get("operation"), "name"),
        token_url=_token_url(rest.get("security")),
        raw=MappingProxyType(dict(raw)),
    )

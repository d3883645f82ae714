"""Patient scope: every request the tools make stays inside one patient's compartment.

A :class:`PatientScope` is bound to one patient id when a session starts; nothing the
model says or a record contains can change it. It is the only way the evidence tools
reach the FHIR server, and it checks *before* sending:

- searches are always constrained with ``patient=<bound id>`` (the caller may not pass
  ``patient``/``subject``, chained parameters, ``_has``, ``_revinclude`` or an ``_include``
  outside a small list), and sent with ``Prefer: handling=strict`` so a server that does
  not understand a parameter fails instead of silently widening the search;
- next links are followed only if they stay on the same server and either carry the bound
  patient or are opaque continuations without search parameters;
- a read of a compartment resource is a search by ``_id`` inside the compartment, so a
  reference to someone else's resource is never even requested; the Patient may only be
  the bound one; resources outside any compartment (Practitioner, Organization,
  Medication, Binary, ...) may be read only when a resource already retrieved for this
  patient points to them.

After receiving, every resource is checked again (defence in depth): a server that returns
another patient's data is a server defect and raises :class:`ScopeBreach`, which is never
handed to the model as evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tools.fhir import FHIRClient
from tools.records import reference_id

__all__ = [
    "COMPARTMENT_TYPES",
    "PatientScope",
    "ScopeBreach",
    "ScopeRefused",
    "ScopedPage",
    "belongs_to",
]

log = logging.getLogger("ehr_agent.scope")

#: Resource types in the Patient compartment and the element that names the patient.
COMPARTMENT_TYPES: dict[str, tuple[str, ...]] = {
    "Observation": ("subject",),
    "Condition": ("subject",),
    "MedicationRequest": ("subject",),
    "Encounter": ("subject",),
    "Procedure": ("subject",),
    "Immunization": ("patient",),
    "AllergyIntolerance": ("patient",),
    "DiagnosticReport": ("subject",),
    "DocumentReference": ("subject",),
    "CarePlan": ("subject",),
    "ImagingStudy": ("subject",),
    "Media": ("subject",),
    "Claim": ("patient",),
    "ExplanationOfBenefit": ("patient",),
    "Goal": ("subject",),
}

#: Types outside the compartment that may be read when the patient's record points to them.
REFERENCED_TYPES = frozenset(
    {"Practitioner", "Organization", "Location", "Medication", "Binary", "Endpoint"}
)

_ALLOWED_CONTROL = frozenset(
    {"_id", "_count", "_sort", "_elements", "_summary", "_total", "_lastUpdated", "_include"}
)
_ALLOWED_INCLUDES = frozenset({"MedicationRequest:medication", "Observation:encounter"})
_ALLOWED_MODIFIERS = frozenset({"text", "exact", "missing", "not", "contains", "below", "above"})
_PATIENT_PARAMS = frozenset({"patient", "subject", "beneficiary"})
_PAGING_KEYS = frozenset(
    {
        "_getpages",
        "_getpagesoffset",
        "_count",
        "_bundletype",
        "_pretty",
        "_format",
        "_page_token",
        "_pageToken",
        "_cursor",
        "_offset",
        "ct",
        "page",
        "_page",
        "pageId",
    }
)


class ScopeRefused(Exception):
    """A request would leave the bound patient's compartment; it was not sent.

    The message is written for the model (it may retry within the record).
    """


class ScopeBreach(Exception):
    """The server returned data outside the compartment: a server defect, never evidence."""


def _patient_id_of(reference: Any) -> str | None:
    if not isinstance(reference, Mapping):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return None
    if ref.startswith("urn:uuid:"):
        return ref[len("urn:uuid:") :]
    rid = reference_id(ref)
    if rid and rid.startswith("Patient/"):
        return rid.split("/", 1)[1]
    return None


def belongs_to(resource: Mapping[str, Any], patient_id: str) -> bool:
    """Whether ``resource`` is the patient or sits in the patient's compartment."""
    rt = resource.get("resourceType")
    if rt == "Patient":
        return resource.get("id") == patient_id
    fields = COMPARTMENT_TYPES.get(str(rt))
    if fields is None:
        return False
    for name in fields:
        value = resource.get(name)
        if _patient_id_of(value) == patient_id:
            return True
    return False


@dataclass
class ScopedPage:
    """Resources of one scoped search, after every check."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    included: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    #: Rows the server still had when paging stopped at the caller's limit.
    more: bool = False


class PatientScope:
    """The only door from the evidence tools to the FHIR server, locked to one patient."""

    def __init__(self, client: FHIRClient, patient_id: str, *, max_pages: int = 20) -> None:
        """Bind ``client`` to ``patient_id`` for the lifetime of this object."""
        if not patient_id or "/" in patient_id or "," in patient_id:
            raise ValueError(f"invalid patient id {patient_id!r}")
        self._client = client
        self._patient_id = patient_id
        self._max_pages = max_pages
        self._closure: set[str] = set()
        base = urlsplit(client.base_url)
        self._origin = (base.scheme, base.netloc)
        self._base_path = base.path.rstrip("/")

    @property
    def patient_id(self) -> str:
        """The bound patient (read-only)."""
        return self._patient_id

    @property
    def client(self) -> FHIRClient:
        """The underlying FHIR client (for its statistics)."""
        return self._client

    # --- checks --------------------------------------------------------------------

    def _check_params(self, resource_type: str, params: Sequence[tuple[str, str]]) -> None:
        if resource_type not in COMPARTMENT_TYPES:
            raise ScopeRefused(
                f"{resource_type} is not part of a patient's record; searchable types: "
                + ", ".join(sorted(COMPARTMENT_TYPES))
            )
        for name, value in params:
            base, _, modifier = name.partition(":")
            if base in _PATIENT_PARAMS:
                raise ScopeRefused(
                    "the patient is fixed for this session; searches cannot name a patient"
                )
            if "." in base or base in ("_has", "_revinclude", "_contained", "_filter", "_query"):
                raise ScopeRefused(f"search parameter {name!r} is not allowed in a patient scope")
            if base.startswith("_") and base not in _ALLOWED_CONTROL:
                raise ScopeRefused(f"search parameter {name!r} is not allowed in a patient scope")
            if modifier and base != "_include" and modifier not in _ALLOWED_MODIFIERS:
                raise ScopeRefused(f"modifier {name!r} is not allowed in a patient scope")
            if base == "_include" and value not in _ALLOWED_INCLUDES:
                allowed = ", ".join(sorted(_ALLOWED_INCLUDES))
                raise ScopeRefused(f"_include={value} is not allowed; allowed: {allowed}")
            if "Patient/" in value and f"Patient/{self._patient_id}" not in value:
                raise ScopeRefused("search values cannot reference another patient")

    def check_next_link(self, url: str, resource_type: str) -> None:
        """Refuse a next link that leaves the server or the bound patient's compartment."""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise ScopeBreach("the server's next link points to another server; not followed")
        path = parts.path.rstrip("/")
        if not path.startswith(self._base_path):
            raise ScopeBreach("the server's next link leaves the FHIR base path; not followed")
        tail = path[len(self._base_path) :].strip("/")
        query = parse_qsl(parts.query, keep_blank_values=True)
        names = {name.partition(":")[0] for name, _ in query}
        if tail not in ("", resource_type):
            raise ScopeBreach(
                f"the server's next link asks for {tail or 'the base'}, not {resource_type}"
            )
        patients = [value for name, value in query if name.partition(":")[0] in _PATIENT_PARAMS]
        if patients:
            if any(v not in (self._patient_id, f"Patient/{self._patient_id}") for v in patients):
                raise ScopeBreach("the server's next link names another patient; not followed")
            if any(name in ("_has", "_revinclude") for name in names):
                raise ScopeBreach("the server's next link widens the search; not followed")
            return
        if names - _PAGING_KEYS:
            raise ScopeBreach("the server's next link drops the patient constraint; not followed")

    def _admit(self, resources: Iterable[Mapping[str, Any]]) -> None:
        """Remember what in-scope resources point to (the readable reference closure)."""
        for res in resources:
            _collect(res, self._closure)

    def _verify(self, resources: Iterable[Mapping[str, Any]]) -> None:
        for res in resources:
            if not belongs_to(res, self._patient_id):
                raise ScopeBreach(
                    f"the server returned a {res.get('resourceType')} outside the bound "
                    "patient's compartment; the result was discarded"
                )

    # --- requests ------------------------------------------------------------------

    async def patient(self) -> dict[str, Any]:
        """The bound Patient resource."""
        resource = await self._client.read("Patient", self._patient_id)
        self._verify([resource])
        self._admit([resource])
        return resource

    async def search(
        self,
        resource_type: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        max_rows: int | None = None,
    ) -> ScopedPage:
        """Search ``resource_type`` inside the compartment, following next links safely.

        Stops once ``max_rows`` matches are in hand (``more`` says whether the server had
        more). Raises :class:`ScopeRefused` for parameters that would leave the scope.
        """
        params = list(params)
        self._check_params(resource_type, params)
        query = [("patient", self._patient_id), *params]
        page = await self._client.search(resource_type, query)
        out = ScopedPage(total=page.get("total") if isinstance(page.get("total"), int) else None)
        for pages in range(self._max_pages):
            matches, included = _split_entries(page)
            self._verify(matches)
            self._verify(r for r in included if r.get("resourceType") in COMPARTMENT_TYPES)
            included = [
                r
                for r in included
                if r.get("resourceType") in COMPARTMENT_TYPES
                or f"{r.get('resourceType')}/{r.get('id')}" in self._closure
                or _referenced_by(matches, r)
            ]
            out.resources.extend(matches)
            out.included.extend(included)
            self._admit(matches)
            self._admit(included)
            next_url = _next_link(page)
            if next_url is None:
                break
            if max_rows is not None and len(out.resources) >= max_rows:
                out.more = True
                break
            if pages + 1 >= self._max_pages:
                out.more = True
                log.warning("scoped search stopped after %d pages", self._max_pages)
                break
            self.check_next_link(next_url, resource_type)
            page = await self._client.follow(next_url)
        if max_rows is not None and len(out.resources) > max_rows:
            out.more = True
            del out.resources[max_rows:]
        return out

    async def count(self, resource_type: str, params: Sequence[tuple[str, str]] = ()) -> int:
        """Number of matches (``_summary=count``) inside the compartment."""
        params = [*params, ("_summary", "count")]
        self._check_params(resource_type, params)
        page = await self._client.search(resource_type, [("patient", self._patient_id), *params])
        total = page.get("total")
        if not isinstance(total, int):
            raise ScopeBreach(f"the server gave no total for a {resource_type} count")
        return total

    async def read(self, ref: str) -> dict[str, Any]:
        """Read ``Type/id`` if it is in scope; raise :class:`ScopeRefused` otherwise."""
        rt, _, rid = ref.partition("/")
        if not rt or not rid or "/" in rid:
            raise ScopeRefused(f"{ref!r} is not a reference of the form Type/id")
        if rt == "Patient":
            if rid != self._patient_id:
                raise ScopeRefused("only the session's own patient can be read")
            return await self.patient()
        if rt in COMPARTMENT_TYPES:
            page = await self.search(rt, [("_id", rid)], max_rows=1)
            if not page.resources:
                raise ScopeRefused(f"{ref} is not in this patient's record")
            return page.resources[0]
        if rt in REFERENCED_TYPES:
            if ref not in self._closure:
                raise ScopeRefused(
                    f"{ref} is not referenced by anything retrieved from this patient's record"
                )
            resource = await self._client.read(rt, rid)
            self._admit([resource])
            return resource
        raise ScopeRefused(f"{rt} resources are not readable in a patient scope")

    async def binary(self, binary_id: str) -> tuple[bytes, str]:
        """Bytes and content type of a Binary the patient's record points to."""
        ref = f"Binary/{binary_id}"
        if ref not in self._closure:
            raise ScopeRefused(f"{ref} is not referenced by this patient's record")
        return await self._client.binary(binary_id)

    def closure(self) -> frozenset[str]:
        """The references admitted so far (for reuse by a cached index)."""
        return frozenset(self._closure)

    def admit_refs(self, refs: Iterable[str]) -> None:
        """Admit references that an identical, earlier search of this scope admitted."""
        self._closure.update(refs)

    def admits(self, ref: str) -> bool:
        """Whether ``ref`` is in the reference closure of what was retrieved."""
        return ref in self._closure


def _collect(value: Any, out: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in ("reference", "url") and isinstance(item, str):
                rid = reference_id(item)
                if rid:
                    out.add(rid)
            elif key != "contained":
                _collect(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect(item, out)


def _referenced_by(matches: Iterable[Mapping[str, Any]], resource: Mapping[str, Any]) -> bool:
    target = f"{resource.get('resourceType')}/{resource.get('id')}"
    refs: set[str] = set()
    for m in matches:
        _collect(m, refs)
    return target in refs


def _split_entries(bundle: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    matches: list[dict[str, Any]] = []
    included: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode == "match":
            matches.append(resource)
        elif mode == "include":
            included.append(resource)
    return matches, included


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None

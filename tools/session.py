"""An evidence session: one patient, one reference date, one budget, every tool call.

The session is what the agent holds. It binds a :class:`PatientScope` when created (the
patient never changes afterwards), keeps the citation handles the model has seen, the
records it has been shown (the evidence an answer may cite), and the record's code
index, built once on first use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError

from tools.citations import CitationRegistry
from tools.evidence.base import ToolError, ToolResult
from tools.fhir import FHIRBadRequest, FHIRClient
from tools.index_cache import CachedIndex, IndexCache
from tools.record_index import RecordIndex
from tools.records import CLINICAL_TYPES, EvidenceRecord, condense
from tools.scope import PatientScope, ScopeRefused

__all__ = ["EvidenceSession"]

log = logging.getLogger("ehr_agent.tools")

#: Elements each type needs for the index; subject/patient is kept so scope checks still work.
_INDEX_ELEMENTS: dict[str, str] = {
    "Condition": "subject,code,clinicalStatus,verificationStatus,onsetDateTime,onsetPeriod,"
    "abatementDateTime,recordedDate,encounter",
    "MedicationRequest": "subject,medicationCodeableConcept,status,authoredOn,encounter,"
    "dosageInstruction,reasonCode",
    "Observation": "subject,code,category,status,effectiveDateTime,effectivePeriod,encounter,"
    "component,valueQuantity,valueCodeableConcept",
    "DiagnosticReport": "subject,code,status,effectiveDateTime,encounter,presentedForm,result",
    "Procedure": "subject,code,status,performedDateTime,performedPeriod,encounter,reasonCode",
    "Immunization": "patient,vaccineCode,status,occurrenceDateTime,encounter,primarySource",
    "AllergyIntolerance": "patient,code,clinicalStatus,category,criticality,type,"
    "onsetDateTime,recordedDate,reaction",
    "CarePlan": "subject,category,status,period,encounter,activity,addresses",
    "Encounter": "subject,type,class,status,period,reasonCode",
    "ImagingStudy": "subject,status,started,encounter,series,endpoint,procedureCode",
    "Media": "subject,status,createdDateTime,modality,view,bodySite,content,partOf,encounter",
    "DocumentReference": "subject,type,status,date,content,context",
}
_INDEX_PAGE = 1000


class EvidenceSession:
    """One patient's evidence, as the model is allowed to see it."""

    def __init__(
        self,
        client: FHIRClient,
        patient_id: str,
        *,
        as_of: date | None = None,
        output_tokens: int = 1200,
        overview_tokens: int = 1500,
        citation_style: str = "short",
        index_cache: IndexCache | None = None,
    ) -> None:
        """Bind a session to ``patient_id``; nothing can rebind it later.

        Args:
            client: FHIR client for the server holding the record.
            patient_id: logical id of the Patient this session may read.
            as_of: reference date; records after it are not evidence. Default: today.
            output_tokens: budget of one tool output (approximate tokens).
            overview_tokens: budget of the record overview.
            citation_style: ``short`` handles (``O12``) or ``full`` ``Type/id``.
            index_cache: share built record indexes with other sessions of this process
                (keyed by server, caller identity, patient and reference date).
        """
        self.scope = PatientScope(client, patient_id)
        self.cites = CitationRegistry(style=citation_style)
        self.as_of = as_of or date.today()
        self.output_tokens = output_tokens
        self.overview_tokens = overview_tokens
        self.retrieved: dict[str, EvidenceRecord] = {}
        self._index: RecordIndex | None = None
        self._index_lock = asyncio.Lock()
        self._index_cache = index_cache
        self._patient: dict[str, Any] | None = None

    @property
    def patient_id(self) -> str:
        """The bound patient."""
        return self.scope.patient_id

    @property
    def patient_ref(self) -> str:
        """``Patient/<id>`` of the bound patient."""
        return f"Patient/{self.scope.patient_id}"

    # --- shared data ---------------------------------------------------------------

    async def patient(self) -> dict[str, Any]:
        """The Patient resource (read once)."""
        if self._patient is None:
            self._patient = await self.scope.patient()
        return self._patient

    def is_current(self, rec: EvidenceRecord) -> bool:
        """Whether a record existed on the session's reference date."""
        return rec.date is None or rec.date[:10] <= self.as_of.isoformat()

    def as_of_view(self, rec: EvidenceRecord) -> EvidenceRecord:
        """The record as it stood on the reference date (later resolutions are hidden)."""
        if rec.end and rec.end[:10] > self.as_of.isoformat():
            update: dict[str, Any] = {"end": None}
            if rec.resource_type == "Condition":
                update["status"] = "active"
                update["details"] = {k: v for k, v in rec.details.items() if k != "abated"}
            return rec.model_copy(update=update)
        return rec

    async def index(self) -> RecordIndex:
        """The record's code index (fetched on first use, then cached)."""
        async with self._index_lock:
            if self._index is None:
                client = self.scope.client
                key = IndexCache.key(
                    client.base_url, client.auth.identity(), self.patient_id, self.as_of
                )
                cached = self._index_cache.get(key) if self._index_cache is not None else None
                if cached is not None:
                    self.scope.admit_refs(cached.closure)
                    self._index = cached.index
                    return cached.index
                started = time.perf_counter()
                before = self.scope.closure()
                batches = await asyncio.gather(*(self._fetch_type(rt) for rt in CLINICAL_TYPES))
                records = [
                    self.as_of_view(rec)
                    for batch in batches
                    for rec in batch
                    if self.is_current(rec)
                ]
                self._index = RecordIndex(records)
                if self._index_cache is not None:
                    admitted = self.scope.closure() - before
                    self._index_cache.put(key, CachedIndex(self._index, admitted))
                log.info(
                    "record index built: %d records, %d codes, %.1f ms",
                    len(records),
                    len(self._index.entries),
                    (time.perf_counter() - started) * 1000,
                )
            return self._index

    async def _fetch_type(self, resource_type: str) -> list[EvidenceRecord]:
        params = [("_count", str(_INDEX_PAGE)), ("_elements", _INDEX_ELEMENTS[resource_type])]
        try:
            page = await self.scope.search(resource_type, params)
        except FHIRBadRequest:
            # Servers without _elements (or without this type's search) still get a chance.
            page = await self.scope.search(resource_type, [("_count", str(_INDEX_PAGE))])
        return [condense(r) for r in page.resources]

    def remember(self, records: Sequence[EvidenceRecord]) -> None:
        """Mark records as shown to the model: they are now citable evidence."""
        for rec in records:
            self.retrieved[rec.ref] = rec
            self.cites.handle(rec.ref)

    def restore(self, handles: dict[str, str]) -> None:
        """Continue a conversation saved by another process: same handles, same evidence.

        The saved handles name resources this conversation was shown, so they stay
        citable; their details are fetched again only if a tool shows them again.
        """
        self.cites.restore(handles)
        for ref in handles.values():
            rt = ref.split("/", 1)[0]
            self.retrieved.setdefault(
                ref, EvidenceRecord.model_construct(ref=ref, resource_type=rt)
            )

    def cite_patient(self) -> str:
        """Cite the Patient (demographics, or a search that found nothing): it is now evidence."""
        patient = self._patient or {}
        facts = [str(patient[k]) for k in ("gender", "birthDate") if patient.get(k)]
        self.retrieved.setdefault(
            self.patient_ref,
            EvidenceRecord.model_construct(
                ref=self.patient_ref,
                resource_type="Patient",
                display="Patient" + (f": {', '.join(facts)}" if facts else ""),
            ),
        )
        return self.cites.cite(self.patient_ref)

    def resolve_citation(self, citation: str) -> str | None:
        """``Type/id`` of a citation if it names evidence shown in this session."""
        ref = self.cites.resolve(citation)
        if ref is not None and ref in self.retrieved:
            return ref
        return None

    # --- running tools -------------------------------------------------------------

    async def run(self, tool: str, args: Mapping[str, Any] | None = None) -> ToolResult:
        """Run one tool; fixable problems come back as a result with ``error`` set.

        Outages (FHIR unavailable, server defects, scope breaches) raise.
        """
        from tools.registry import TOOLS

        args = dict(args or {})
        spec = TOOLS.get(tool)
        if spec is None:
            return _error(tool, args, f"unknown tool {tool!r}; tools: {', '.join(TOOLS)}")
        try:
            parsed = spec.args_model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return _error(tool, args, f"invalid arguments for {tool}: {problems}")
        try:
            result = await spec.run(self, parsed)
        except (ToolError, ScopeRefused) as exc:
            return _error(tool, args, str(exc))
        except FHIRBadRequest as exc:
            return _error(tool, args, f"the FHIR server rejected the query: {exc.diagnostics}")
        result.args = args
        return result


def _error(tool: str, args: dict[str, Any], message: str) -> ToolResult:
    return ToolResult(tool=tool, args=args, text=f"ERROR: {message}", error=message)

"""Which patient a service caller means: an id or words of a name, resolved and remembered.

Service callers name the patient in every request, usually by the same id again and again;
resolving it costs a FHIR read. Answers are kept for a few minutes (a patient's id does
not change; one deleted meanwhile still fails, later, as "patient not found"). SMART
callers never come here: their patient is the token's.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from agent.backend.errors import InvalidRequest, NotFound, Unavailable, UpstreamError
from tools.fhir import FHIRBadRequest, FHIRClient, FHIRError, FHIRUnavailable
from tools.patients import PatientLookupError, find_patient

__all__ = ["PatientResolver"]


class PatientResolver:
    """Resolves patient text to a FHIR id on one server, with a bounded, timed memory.

    Args:
        client: The FHIR client of service callers.
        ttl_s: How long a resolution is reused.
        max_entries: Resolutions kept (least recently used are dropped).
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        client: FHIRClient,
        *,
        ttl_s: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def resolve(self, text: str) -> str:
        """The id of the one patient ``text`` names.

        Raises:
            NotFound: No patient, or several, match (the message lists close matches).
            InvalidRequest: The FHIR server refused the lookup as malformed.
            Unavailable: The FHIR server is down.
            UpstreamError: It failed otherwise.
        """
        key = text.strip()
        hit = self._known.get(key)
        if hit is not None and hit[1] > self._clock():
            self._known.move_to_end(key)
            return hit[0]
        patient_id = await self._lookup(key)
        self._known[key] = (patient_id, self._clock() + self._ttl_s)
        self._known.move_to_end(key)
        if len(self._known) > self._max_entries:
            self._known.popitem(last=False)
        return patient_id

    async def _lookup(self, text: str) -> str:
        try:
            return (await find_patient(self._client, text)).id
        except PatientLookupError as exc:
            raise NotFound(str(exc), code="patient_not_found") from None
        except FHIRUnavailable as exc:
            raise Unavailable(
                f"the FHIR server is unavailable: {exc}", code="fhir_unavailable", retry_after_s=5
            ) from None
        except FHIRBadRequest as exc:
            raise InvalidRequest(
                f"the FHIR server refused the patient lookup: {exc.diagnostics}",
                code="patient_not_found",
            ) from None
        except FHIRError as exc:
            raise UpstreamError(
                f"the FHIR server failed the patient lookup: {exc}", code="fhir_error"
            ) from None

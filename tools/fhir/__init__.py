"""The async FHIR R4 client: the one HTTP chokepoint between the project and a FHIR server.

Start with :class:`FHIRClient` (``tools.fhir.client``); errors are described in
``tools.fhir.errors``, retry rules in ``tools.fhir.retry``, authorisation modes in
``tools.fhir.auth``.
"""

from tools.fhir.auth import (
    Auth,
    BearerToken,
    ClientCredentials,
    NoAuth,
    SmartBackendServices,
    TokenEndpointHost,
    TokenRequest,
)
from tools.fhir.bundles import SearchResult, next_link, reference_of
from tools.fhir.capabilities import CapabilityStatement, ResourceSupport
from tools.fhir.client import FHIR_JSON, FHIRClient
from tools.fhir.errors import (
    FHIRAuthError,
    FHIRBadRequest,
    FHIRConflict,
    FHIRError,
    FHIRGone,
    FHIRNotFound,
    FHIRNotSupported,
    FHIRProtocolError,
    FHIRUnavailable,
    Issue,
)
from tools.fhir.factory import auth_from_settings, from_settings
from tools.fhir.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from tools.fhir.search_params import ParamsLike, SearchParams, escape, token
from tools.fhir.stats import ClientStats, RequestEvent, RequestHook, StatsSnapshot, track_requests

__all__ = [
    "FHIR_JSON",
    "RETRY_STATUSES",
    "Auth",
    "BearerToken",
    "CapabilityStatement",
    "ClientCredentials",
    "ClientStats",
    "FHIRAuthError",
    "FHIRBadRequest",
    "FHIRClient",
    "FHIRConflict",
    "FHIRError",
    "FHIRGone",
    "FHIRNotFound",
    "FHIRNotSupported",
    "FHIRProtocolError",
    "FHIRUnavailable",
    "Issue",
    "NoAuth",
    "ParamsLike",
    "RequestEvent",
    "RequestHook",
    "ResourceSupport",
    "RetryPolicy",
    "SearchParams",
    "SearchResult",
    "SmartBackendServices",
    "StatsSnapshot",
    "TokenEndpointHost",
    "TokenRequest",
    "auth_from_settings",
    "escape",
    "from_settings",
    "next_link",
    "parse_retry_after",
    "reference_of",
    "token",
    "track_requests",
]

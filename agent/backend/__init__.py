"""``ehr-agent serve``: the HTTP backend that SMART on FHIR apps and services call.

Start with :func:`create_app` (``agent.backend.app``); authentication and limits are a
:class:`BackendConfig`; deployment notes are in ``agent/backend/README.md``.
"""

from agent.backend.app import create_app
from agent.backend.callers import Caller, KeyRing
from agent.backend.config import BackendConfig, normalize_base_url
from agent.backend.errors import APIError
from agent.backend.resources import BackendResources, ModelSource, open_resources
from agent.backend.smart import SmartContext, SmartVerifier

__all__ = [
    "APIError",
    "BackendConfig",
    "BackendResources",
    "Caller",
    "KeyRing",
    "ModelSource",
    "SmartContext",
    "SmartVerifier",
    "create_app",
    "normalize_base_url",
    "open_resources",
]

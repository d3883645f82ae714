"""Opening the configured FHIR server for a front end: a URL, or the embedded one.

With ``fhir_url`` set, the client talks to that server with the configured auth. Without
it, the embedded FHIR server is started on loopback over the database under
``data_dir`` (loading the shipped sample cohort the first time), and the client talks to
it over real HTTP, exactly as it would to any other server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agent.config import Settings
from tools.fhir import FHIRClient, from_settings

__all__ = ["open_fhir"]


@asynccontextmanager
async def open_fhir(settings: Settings) -> AsyncIterator[FHIRClient]:
    """A FHIR client for the configured server, embedded when no URL is set."""
    if settings.fhir_url:
        async with from_settings(settings) as client:
            yield client
        return
    from fhir_fixtures.embedded import embedded_fhir_server

    with embedded_fhir_server(settings.fhir_db_path) as server:
        async with FHIRClient(
            server.base_url,
            timeout=settings.fhir_timeout,
            max_retries=settings.fhir_max_retries,
            retry_budget_s=settings.fhir_retry_budget_s,
            max_pages=settings.fhir_max_pages,
        ) as client:
            yield client

"""The embedded FHIR R4 server: Starlette over SQLite, in-process or over HTTP.

``create_app`` builds the ASGI app; ``BackgroundServer`` runs it on loopback in a daemon
thread (tests, loaders, embedded use); ``serve_command`` is ``ehr-agent fhir serve``.
What the server supports is declared in :mod:`fhir_fixtures.server.search_params` and
advertised at ``/metadata``.
"""

from fhir_fixtures.server.access_log import AccessLog, AccessLogEntry
from fhir_fixtures.server.app import create_app
from fhir_fixtures.server.background import BackgroundServer, ServerStartError
from fhir_fixtures.server.run import serve_command

__all__ = [
    "AccessLog",
    "AccessLogEntry",
    "BackgroundServer",
    "ServerStartError",
    "create_app",
    "serve_command",
]

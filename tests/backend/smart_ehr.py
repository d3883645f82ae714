"""A small SMART-enabled EHR for the tests: the embedded FHIR server plus OAuth metadata.

* ``{base}/...``: the embedded FHIR server (its own bearer-token check: it accepts only the
  token it was started with) with an access log;
* ``{base}/.well-known/smart-configuration``: advertises the introspection endpoint;
* ``{base}/auth/introspect``: RFC 7662 token introspection, answering from a table of
  tokens; it requires HTTP Basic authentication of the resource server (the backend's
  confidential client) and records every call.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

CLIENT_ID = "ehr-agent-backend"
CLIENT_SECRET = "backend secret/with:odd&chars"


@dataclass
class Introspection:
    """One call of the introspection endpoint."""

    client_id: str | None
    token: str | None
    token_type_hint: str | None


@dataclass
class SmartEHR:
    """An ASGI app wrapping a FHIR app with SMART discovery and introspection.

    Attributes:
        fhir_app: The embedded FHIR server's ASGI app.
        tokens: Access token -> introspection response (without ``active``: present
            tokens are active unless the entry says ``"active": False``).
        calls: Every introspection request received.
    """

    fhir_app: ASGIApp
    tokens: dict[str, dict[str, Any]]
    calls: list[Introspection] = field(default_factory=list)
    base_url: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/.well-known/smart-configuration":
            await self._configuration(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == "/auth/introspect":
            await self._introspect(scope, receive, send)
        else:
            await self.fhir_app(scope, receive, send)

    async def _configuration(self, scope: Scope, receive: Receive, send: Send) -> None:
        base = str(Request(scope, receive).base_url).rstrip("/")
        document = {
            "token_endpoint": f"{base}/auth/token",
            "introspection_endpoint": f"{base}/auth/introspect",
            "capabilities": ["launch-ehr", "client-confidential-symmetric", "context-ehr-patient"],
        }
        await JSONResponse(document)(scope, receive, send)

    async def _introspect(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        client_id = _basic_client(request.headers.get("authorization", ""))
        form = parse_qs((await request.body()).decode())
        token = form.get("token", [None])[0]
        self.calls.append(Introspection(client_id, token, form.get("token_type_hint", [None])[0]))
        if request.method != "POST":
            response = JSONResponse({"error": "invalid_request"}, status_code=405)
        elif client_id != CLIENT_ID:
            response = JSONResponse({"error": "invalid_client"}, status_code=401)
        elif token is None:
            response = JSONResponse({"error": "invalid_request"}, status_code=400)
        elif token not in self.tokens:
            response = JSONResponse({"active": False})
        else:
            entry = {"active": True, "exp": int(time.time()) + 3600, **self.tokens[token]}
            response = JSONResponse(entry if entry["active"] else {"active": False})
        await response(scope, receive, send)


def _basic_client(header: str) -> str | None:
    """The client id of an RFC 6749 §2.3.1 Basic header whose secret is right, else None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, secret = base64.b64decode(value).decode().partition(":")
    if unquote_plus(secret) != CLIENT_SECRET:
        return None
    return unquote_plus(user)

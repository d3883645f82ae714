"""The FastAPI application of ``ehr-agent serve``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.backend.config import BackendConfig
from agent.backend.errors import install_error_handlers
from agent.backend.limits import BodySizeLimit
from agent.backend.resources import ModelSource, open_resources
from agent.backend.routes import router
from agent.cli_common import DISCLAIMER
from agent.config import Settings

__all__ = ["create_app"]

_DESCRIPTION = """\
Questions about one patient's FHIR R4 record, answered by an agent with citations to the
exact resources. {disclaimer}

**Service callers** send an API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`,
and name the patient (FHIR id or name) in each request.

**SMART apps** send their access token as `Authorization: Bearer <token>` and the FHIR base
URL they were launched against as `X-FHIR-Server` (which must be on the server's
allow-list). The token is checked by introspection (RFC 7662) and forwarded to that FHIR
server, which enforces its scopes; the conversation is pinned to the token's patient:
asking about anyone else is refused (403) before any request is made for them.

Limits: request bodies up to {max_body} bytes, questions up to {max_question} characters,
{rate} requests a minute per caller (bursts of {burst}), {concurrent} questions at once with
{queue} waiting, {timeout:g} s per question. Refusals are JSON `ErrorBody` documents with
the matching status (401, 403, 404, 409, 413, 422, 429, 502, 503, 504) and `Retry-After`
on 429 and 503.
"""


class _BackendAPI(FastAPI):
    """FastAPI whose OpenAPI document shows the configured question limit."""

    backend_config: BackendConfig

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            for name, component in schema.get("components", {}).get("schemas", {}).items():
                if name.startswith("AskRequest"):
                    question = component["properties"]["question"]
                    question["maxLength"] = self.backend_config.max_question_chars
            self.openapi_schema = schema
        return self.openapi_schema


def _version() -> str:
    try:
        return version("ehr-agent")
    except PackageNotFoundError:
        return "0"


def create_app(
    settings: Settings,
    config: BackendConfig | None = None,
    *,
    model: ModelSource = None,
    smart_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The backend as an ASGI app; its lifespan opens (and closes) the shared parts.

    Args:
        settings: FHIR server, model, agent budgets and checkpointer.
        config: Authentication and limits (default: from ``settings`` with default limits).
        model: An opened :class:`~agent.llm.LLMBackend`, an in-process chat model, or None
            to open the configured model when the app starts.
        smart_transport: httpx transport for SMART discovery and introspection (tests).

    Returns:
        The app. Without API keys, SMART servers or ``no_auth`` it refuses every request
        to the API (401); ``ehr-agent serve`` refuses to start that way.
    """
    config = config or BackendConfig.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(
            settings, config, model=model, smart_transport=smart_transport
        ) as res:
            app.state.resources = res
            yield

    app = _BackendAPI(
        title="ehr-agent",
        version=_version(),
        description=_DESCRIPTION.format(
            disclaimer=DISCLAIMER,
            max_body=config.max_body_bytes,
            max_question=config.max_question_chars,
            rate=f"{config.rate_per_minute:g}" if config.rate_per_minute else "unlimited",
            burst=config.rate_burst,
            concurrent=config.max_concurrent,
            queue=config.max_queue,
            timeout=config.request_timeout_s,
        ),
        lifespan=lifespan,
        redoc_url=None,
    )
    app.backend_config = config
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    if config.cors_origins:
        # Added last, so it is outermost: refusals carry CORS headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-FHIR-Server"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    return app

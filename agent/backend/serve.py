"""The implementation of ``ehr-agent serve`` (parser: ``agent.backend_cli``)."""

from __future__ import annotations

import argparse
import contextlib

import httpx

from agent.backend.config import BackendConfig
from agent.cli_common import DISCLAIMER, UserError, err_console, settings_from_args
from fhir_fixtures.server.background import is_loopback_host

__all__ = ["check_exposure", "serve_command"]

_LIMIT_FLAGS = (
    "max_concurrent",
    "max_queue",
    "queue_timeout_s",
    "request_timeout_s",
    "rate_per_minute",
    "rate_burst",
    "max_question_chars",
    "max_body_bytes",
    "cors_origins",
)


def check_exposure(config: BackendConfig, host: str) -> None:
    """Refuse to serve without authentication anywhere but on loopback.

    Raises:
        UserError: (exit code 2) no API key and no SMART server is configured and
            ``--no-auth`` was not given, or ``--no-auth`` on a non-loopback address.
    """
    if config.no_auth:
        if not is_loopback_host(host):
            raise UserError(
                f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, "
                f"localhost), not {host}: configure EHR_AGENT_API_KEYS instead",
                exit_code=2,
            )
        return
    if not config.api_keys and not config.smart_enabled:
        raise UserError(
            "no authentication is configured: set EHR_AGENT_API_KEYS (comma-separated keys "
            "of at least 16 characters) and/or EHR_AGENT_SMART_FHIR_SERVERS, or serve on "
            "127.0.0.1 with --no-auth",
            exit_code=2,
        )


def _warnings(config: BackendConfig, host: str) -> list[str]:
    out = []
    if not is_loopback_host(host):
        for url in config.smart_servers:
            if httpx.URL(url).scheme == "http" and not is_loopback_host(httpx.URL(url).host):
                out.append(f"SMART tokens would be forwarded to {url} over plain http")
    return out


def serve_command(args: argparse.Namespace) -> int:
    """Run ``ehr-agent serve`` until interrupted (Ctrl-C, SIGINT); 0 after a clean shutdown."""
    import uvicorn

    from agent.backend.app import create_app
    from agent.runtime import llm_backend

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0-65535, got {args.port}", exit_code=2)
    settings = settings_from_args(args)
    config = BackendConfig.from_settings(
        settings,
        no_auth=args.no_auth,
        **{name: getattr(args, name) for name in _LIMIT_FLAGS},
    )
    check_exposure(config, args.host)
    console = err_console()
    for warning in _warnings(config, args.host):
        console.print(f"[bold yellow]warning:[/] {warning}", soft_wrap=True)
    with llm_backend(settings) as backend:
        app = create_app(settings, config, model=backend)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
        )
        auth = []
        if config.api_keys:
            auth.append(f"{len(config.api_keys)} API keys")
        if config.smart_enabled:
            auth.append(f"SMART tokens for {len(config.smart_servers)} FHIR servers")
        if config.no_auth:
            auth.append("NONE (--no-auth)")
        console.print(
            f"ehr-agent serve: model {backend.model_name}, FHIR "
            f"{settings.fhir_url or 'embedded sample cohort'}, auth: {', '.join(auth)}; "
            f"OpenAPI at /openapi.json\n[dim]{DISCLAIMER}[/]"
        )
        # uvicorn re-raises the signal it stopped on; stopping is the normal way out.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    if not server.started:
        raise UserError("the server did not start (see the error above)", exit_code=2)
    return 0

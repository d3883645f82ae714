"""``ehr-agent serve``: the parser only; the implementation is imported when it runs."""

from __future__ import annotations

import argparse

from agent.cli_common import add_fhir_options, add_llm_options

__all__ = ["register"]


def _serve(args: argparse.Namespace) -> int:
    from agent.backend.serve import serve_command

    return serve_command(args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    parser = sub.add_parser(
        "serve",
        help="serve the HTTP API for SMART on FHIR apps and services",
        description=(
            "Serve the agent over HTTP (OpenAPI at /openapi.json): POST /v1/ask, "
            "POST /v1/ask/stream (server-sent events), GET /v1/sessions/{id}, /healthz, "
            "/readyz. Service callers authenticate with an API key (EHR_AGENT_API_KEYS, "
            "comma-separated); SMART apps with their access token and X-FHIR-Server, which "
            "must be one of EHR_AGENT_SMART_FHIR_SERVERS. Without either, the server only "
            "starts on a loopback address with --no-auth. Conversations are kept in "
            "EHR_AGENT_CHECKPOINTER (SQLite by default; postgresql://... for several "
            "replicas). Research and engineering tool, not a medical device."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve callers without credentials (refused unless --host is a loopback address)",
    )
    parser.add_argument(
        "--smart-fhir-servers",
        dest="smart_fhir_servers",
        metavar="URLS",
        help="comma-separated FHIR base URLs SMART apps may name "
        "(env EHR_AGENT_SMART_FHIR_SERVERS)",
    )
    parser.add_argument(
        "--checkpointer",
        metavar="TARGET",
        help="conversation store: SQLite path or postgresql:// URL (env EHR_AGENT_CHECKPOINTER)",
    )
    limits = parser.add_argument_group("limits (per process)")
    limits.add_argument(
        "--max-concurrent", type=int, metavar="N", help="questions answered at once (16)"
    )
    limits.add_argument(
        "--max-queue", type=int, metavar="N", help="questions waiting for a slot (64)"
    )
    limits.add_argument(
        "--queue-timeout",
        dest="queue_timeout_s",
        type=float,
        metavar="S",
        help="longest wait for a slot before 503 (30)",
    )
    limits.add_argument(
        "--request-timeout",
        dest="request_timeout_s",
        type=float,
        metavar="S",
        help="time one question may take before 504 (600)",
    )
    limits.add_argument(
        "--rate-limit",
        dest="rate_per_minute",
        type=float,
        metavar="PER_MIN",
        help="requests a minute per caller; 0 = off (120)",
    )
    limits.add_argument(
        "--rate-burst", type=int, metavar="N", help="requests a caller may send at once (20)"
    )
    limits.add_argument(
        "--max-question-chars", type=int, metavar="N", help="longest question (2000)"
    )
    limits.add_argument(
        "--max-body-bytes", type=int, metavar="N", help="largest request body (65536)"
    )
    limits.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        metavar="ORIGIN",
        help="browser origin allowed to call the API (repeatable; default none)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="server log level (default info)",
    )
    add_fhir_options(parser)
    add_llm_options(parser)
    parser.set_defaults(handler=_serve)

"""``ehr-agent fhir serve`` and ``ehr-agent fhir load``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fhir`` command group."""
    fhir = sub.add_parser(
        "fhir",
        help="run the embedded FHIR R4 server or load bundles into any FHIR server",
        description="The embedded FHIR R4 server and bundle loading.",
    )
    fhir_sub = fhir.add_subparsers(dest="fhir_command", metavar="COMMAND", required=True)

    serve = fhir_sub.add_parser(
        "serve",
        help="serve a SQLite-backed FHIR R4 server over HTTP",
        description=(
            "Serve the embedded FHIR R4 server (SQLite) over HTTP. It binds 127.0.0.1 unless "
            "told otherwise; set --token to require a bearer token."
        ),
    )
    serve.add_argument("--db", metavar="PATH", help="SQLite file (default: under --data-dir)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free)")
    serve.add_argument(
        "--token", metavar="TOKEN", help="require 'Authorization: Bearer TOKEN' on every request"
    )
    serve.add_argument(
        "--no-validate",
        action="store_true",
        help="skip validating incoming resources against the R4 models (faster bulk loads)",
    )
    serve.add_argument(
        "--data-dir", metavar="DIR", help="embedded state directory (env EHR_AGENT_DATA_DIR)"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log one line per request (no resource contents)"
    )
    serve.set_defaults(handler=_serve)

    load = fhir_sub.add_parser(
        "load",
        help="load Synthea bundles or NDJSON into a FHIR server",
        description=(
            "Load Synthea per-patient transaction bundles (.json, .json.gz), folders of them, and "
            "bulk-export NDJSON (.ndjson, .ndjson.gz) into any FHIR R4 server. Loading the same "
            "files twice does not duplicate anything. A bad file is reported with its name and "
            "entry; the others still load, and the exit code is non-zero."
        ),
    )
    load.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to load")
    load.add_argument(
        "--url",
        dest="fhir_url",
        metavar="URL",
        help="target FHIR base URL (env EHR_AGENT_FHIR_URL; default: the embedded server's db)",
    )
    load.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="bundles in flight (default 4)"
    )
    load.add_argument(
        "--data-dir", metavar="DIR", help="embedded state directory (env EHR_AGENT_DATA_DIR)"
    )
    load.add_argument(
        "--with-images",
        metavar="DIR",
        help="after loading, attach the images in DIR to patients whose record has imaging",
    )
    load.set_defaults(handler=_load)


def _serve(args: argparse.Namespace) -> int:
    from fhir_fixtures.server.run import serve_command

    return serve_command(args)


def _load(args: argparse.Namespace) -> int:
    from fhir_fixtures.loader import load_command

    return load_command(args)

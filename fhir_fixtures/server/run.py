"""``ehr-agent fhir serve``: the embedded server over HTTP until interrupted."""

from __future__ import annotations

import argparse
import logging
import socket

__all__ = ["serve_command"]


def serve_command(args: argparse.Namespace) -> int:
    """Serve the SQLite-backed FHIR R4 server (``--db`` or Settings().fhir_db_path).

    Returns:
        0 after a clean shutdown (Ctrl-C).
    """
    import uvicorn

    from agent.cli_common import UserError, err_console, settings_from_args
    from agent.config import ConfigError
    from fhir_fixtures.server.access_log import AccessLog
    from fhir_fixtures.server.app import create_app
    from fhir_fixtures.server.background import is_loopback_host
    from fhir_fixtures.server.store import StoreError

    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    db_path = args.db or settings.fhir_db_path
    host: str = args.host
    if args.port < 0 or args.port > 65535:
        raise UserError(f"--port must be 0-65535, got {args.port}")
    console = err_console()
    if not is_loopback_host(host) and not args.token:
        console.print(
            f"[bold red]WARNING[/]: serving on {host} WITHOUT a token: anyone who can reach "
            "this address can read and change every record. Use --token, or bind 127.0.0.1."
        )
    access_log = None
    if args.access_log:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        access_log = AccessLog(emit=True)
    try:
        app = create_app(
            db_path, validate=not args.no_validate, token=args.token, access_log=access_log
        )
    except StoreError as exc:
        raise UserError(str(exc)) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, args.port))
    except OSError as exc:
        sock.close()
        app.state.store.close()
        raise UserError(f"cannot listen on {host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    console.print(
        f"FHIR R4 server on http://{shown_host}:{port} (database {db_path}, "
        f"validation {'off' if args.no_validate else 'on'}, "
        f"{'bearer token required' if args.token else 'no authentication'}); Ctrl-C stops it"
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0

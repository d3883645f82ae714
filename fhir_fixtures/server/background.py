"""Running the server on loopback in a daemon thread, for tests, loaders and embedded use."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from fhir_fixtures.server.access_log import AccessLog
from fhir_fixtures.server.app import create_app
from fhir_fixtures.server.store import StoreError

__all__ = ["BackgroundServer", "ServerStartError", "is_loopback_host"]

_START_TIMEOUT = 10.0
_LOG = logging.getLogger(__name__)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServerStartError(RuntimeError):
    """The background server did not come up (port in use, bad database path...)."""


class BackgroundServer:
    """The embedded FHIR server in a daemon thread, as a sync context manager.

    It runs its own event loop in its own thread, so it is safe to use from async tests.

    Example::

        with BackgroundServer(tmp_path / "fhir.sqlite") as server:
            httpx.get(f"{server.base_url}/metadata")

    Attributes:
        base_url: e.g. ``http://127.0.0.1:43123`` (set once started).
        access_log: every request the server answered.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validate: bool = True,
        token: str | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.validate = validate
        self.token = token
        self.access_log = AccessLog()
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    def start(self) -> BackgroundServer:
        """Bind the socket, start serving and wait until requests are accepted.

        Raises:
            ServerStartError: the server did not start within 10 s, or failed.
        """
        if self._thread is not None:
            raise ServerStartError("the server is already running")
        if not is_loopback_host(self.host) and not self.token:
            _LOG.warning(
                "serving the FHIR server on %s without a token: anyone who can reach it can "
                "read and change every record",
                self.host,
            )
        try:
            app = create_app(
                self.db_path, validate=self.validate, token=self.token, access_log=self.access_log
            )
        except StoreError as exc:
            raise ServerStartError(str(exc)) from exc
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            app.state.store.close()
            raise ServerStartError(f"cannot bind {self.host}:{self.port}: {exc}") from exc
        sock.listen(128)
        self._socket = sock
        bound_port = sock.getsockname()[1]
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self.base_url = f"http://{host}:{bound_port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported to the starting thread
                self._error = exc

        self._thread = threading.Thread(target=run, name="fhir-background-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self.stop()
                raise ServerStartError(f"the FHIR server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError("the FHIR server did not start within 10 s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

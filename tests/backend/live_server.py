"""Running an ASGI app (the backend, a test EHR) with uvicorn on loopback in a thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

_START_TIMEOUT_S = 15.0


class LiveServer:
    """``with LiveServer(app) as server: httpx.get(server.url + "/healthz")``.

    The app's lifespan runs in the server thread's own event loop, so everything the app
    opens there (FHIR clients, the checkpointer) lives in that loop, as in production.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        self._socket = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="on", ws="none"
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=run, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self.__exit__(None, None, None)
                raise RuntimeError(f"the app did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the app did not start in time")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()

"""FHIR servers as child processes on loopback: sekmet-fhir, and ours on the same footing.

sekmet-fhir (``pip install sekmet-fhir==0.1.1``) is a young third-party FHIR R4 server. The
conformance cross-check (``tests/conformance``) and ``ehr-agent bench fhir`` compare the
embedded server with it; both start it through :func:`start_sekmet`, which runs its ASGI app
under uvicorn (no access log) with its hospital simulator and inbound validation off, so it
behaves as a plain FHIR store. :func:`start_embedded` runs ``ehr-agent fhir serve`` as a child
process too, so that a benchmark client never shares an interpreter (or its GIL) with either
server.

Known defects of sekmet 0.1.1 that callers must allow for (tests/conformance/README.md has the
full list, each with the R4 text it departs from):

* paging links are built from its configured ``base_url``: it must be the URL it serves on;
* ``Patient/$everything`` ignores ``_count`` and returns one page without links;
* ``value-quantity`` is a plain number: units are ignored and ``eq`` is exact equality;
* ``Goal`` has no search parameters, so goals miss ``$everything`` and ``Goal?patient=``;
* ``Binary`` reads asking for the content type (``Accept: image/png``) answer 406; with
  ``Accept: */*`` it answers the Binary resource as JSON, never the raw bytes.

Example::

    with start_sekmet(tmp_path / "sekmet") as sekmet:
        httpx.get(f"{sekmet.base_url}/metadata")
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import httpx

__all__ = [
    "SEKMET_VERSION",
    "ServerProcess",
    "ServerProcessError",
    "free_port",
    "sekmet_settings",
    "sekmet_version",
    "start_embedded",
    "start_sekmet",
]

#: The sekmet-fhir release the documented behaviour was observed on.
SEKMET_VERSION = "0.1.1"

_POLL_SECONDS = 0.1
_STOP_SECONDS = 10.0


class ServerProcessError(RuntimeError):
    """A child FHIR server could not start (not installed, exited, or never answered)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sekmet_version() -> str | None:
    """The installed sekmet-fhir version, or None when it is not installed."""
    try:
        return importlib.metadata.version("sekmet-fhir")
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class ServerProcess:
    """A FHIR server running as a child process; a context manager that stops it.

    Attributes:
        name: ``sekmet`` or ``embedded``.
        base_url: the FHIR base URL, without a trailing slash.
        process: the child process.
        log_path: where its stdout and stderr go (read it when it fails).
        data_path: its database file.
    """

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_path: Path
    _log: BinaryIO | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the process (kill it after 10 s) and close its log (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _spawn(
    name: str,
    command: list[str],
    *,
    base_url: str,
    workdir: Path,
    data_path: Path,
    env: dict[str, str] | None,
    timeout: float,
) -> ServerProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    log = log_path.open("ab")
    # stdout/stderr go to a file: a pipe nobody reads would block the server once it fills.
    # The command is built here from sys.executable and fixed arguments, never from input.
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = ServerProcess(name, base_url, process, log_path, data_path, log)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not server.running:
                raise ServerProcessError(
                    f"{server.name} exited with code {server.process.returncode}: "
                    f"{server.log_tail()}"
                )
            try:
                if client.get(f"{server.base_url}/metadata").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(_POLL_SECONDS)
    raise ServerProcessError(f"{server.name} did not answer /metadata within {timeout:.0f} s")


def sekmet_settings(home: Path, port: int) -> Path:
    """Write sekmet's settings file for a plain FHIR store on ``127.0.0.1:port``.

    The simulator would answer orders on its own and inbound validation would reject
    Synthea's extensions; traffic logging would store every request body in the database.
    """
    base_url = f"http://127.0.0.1:{port}/fhir"
    config = home / "settings.yaml"
    config.write_text(
        f"base_url: {base_url}\n"
        f"host: 127.0.0.1\nport: {port}\n"
        f"data_dir: {home / 'data'}\n"
        "simulator:\n  enabled: false\n"
        "validation:\n  inbound: 'off'\n"
        "log_inbound: false\n"
    )
    return config


def start_sekmet(home: Path, *, port: int = 0, timeout: float = 30.0) -> ServerProcess:
    """Start sekmet-fhir on ``127.0.0.1`` with its data under ``home``.

    Args:
        home: its working folder (settings, keys, ``data/sekmet.db``); reused if it exists,
            so a stopped sekmet can be restarted on the same database.
        port: the port (0 picks a free one).
        timeout: seconds to wait for ``/metadata``.

    Raises:
        ServerProcessError: sekmet-fhir is not installed, exited, or did not answer.
    """
    if importlib.util.find_spec("sekmet") is None:
        raise ServerProcessError(
            f"sekmet-fhir is not installed in {sys.executable}: "
            f"pip install sekmet-fhir=={SEKMET_VERSION}"
        )
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = sekmet_settings(home, port)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "sekmet.main:app_factory",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return _spawn(
        "sekmet",
        command,
        base_url=f"http://127.0.0.1:{port}/fhir",
        workdir=home,
        data_path=home / "data" / "sekmet.db",
        env={"SEKMET_CONFIG": str(config)},
        timeout=timeout,
    )


def start_embedded(
    db_path: Path, *, validate: bool = False, port: int = 0, timeout: float = 30.0
) -> ServerProcess:
    """Start ``ehr-agent fhir serve`` on ``127.0.0.1`` over ``db_path``.

    Args:
        db_path: the SQLite file (created if missing); its log goes beside it.
        validate: validate incoming resources against the R4 models.
        port: the port (0 picks a free one).
        timeout: seconds to wait for ``/metadata``.

    Raises:
        ServerProcessError: the server exited or did not answer.
    """
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "agent.cli",
        "fhir",
        "serve",
        "--db",
        str(db_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if not validate:
        command.append("--no-validate")
    return _spawn(
        "embedded",
        command,
        base_url=f"http://127.0.0.1:{port}",
        workdir=db_path.parent,
        data_path=db_path,
        env=None,
        timeout=timeout,
    )

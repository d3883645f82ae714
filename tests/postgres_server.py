"""A throwaway PostgreSQL server for tests: initdb into a temporary folder, run on loopback.

Uses the machine's PostgreSQL server binaries (Debian's ``postgresql`` package: ``initdb``
and ``postgres``); when they, or the ``postgres`` extra's Python packages, are missing the
test is skipped with the reason. PostgreSQL refuses to run as root: under root the server
runs as the ``postgres`` user. Nothing outside the temporary folder is touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_START_TIMEOUT_S = 30.0


def _server_binaries() -> tuple[str, str] | None:
    initdb = shutil.which("initdb")
    candidates = [os.path.dirname(initdb)] if initdb else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if os.access(f"{folder}/initdb", os.X_OK) and os.access(f"{folder}/postgres", os.X_OK):
            return f"{folder}/initdb", f"{folder}/postgres"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """``with postgres_server() as url:`` a fresh, empty server; ``url`` is postgresql://."""
    pytest.importorskip("langgraph.checkpoint.postgres", reason="needs the postgres extra")
    psycopg = pytest.importorskip("psycopg", reason="needs the postgres extra")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed")
    initdb, postgres = binaries
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="ehr-agent-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    log = folder / "server.log"
    process = None
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "agent", "-E", "UTF8",
             "--no-sync"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        port = _free_port()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*run_as, postgres, "-D", str(data), "-p", str(port), "-k", str(folder),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        url = f"postgresql://agent@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "PostgreSQL did not start: " + log.read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)

"""``ehr-agent fhir serve`` as a real process, and opening an incompatible database."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fhir_fixtures.server import BackgroundServer, ServerStartError


def test_serve_command_serves_with_a_token(tmp_path: Path) -> None:
    db = tmp_path / "served.sqlite"
    command = [
        sys.executable,
        "-m",
        "agent.cli",
        "fhir",
        "serve",
        "--db",
        str(db),
        "--port",
        "0",
        "--token",
        "tok",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        _exercise(process)
    assert process.returncode is not None
    assert db.exists()


def _exercise(process: subprocess.Popen[str]) -> None:
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        lines = []
        while time.monotonic() < deadline and url is None:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if match:
                url = match.group(0)
        assert url is not None, "".join(lines)
        assert httpx.get(f"{url}/metadata").status_code == 200
        assert httpx.get(f"{url}/Patient").status_code == 401
        created = httpx.put(
            f"{url}/Patient/p1",
            json={"resourceType": "Patient", "id": "p1"},
            headers={"Authorization": "Bearer tok", "Content-Type": "application/fhir+json"},
        )
        assert created.status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_incompatible_database_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE resources(x)")
    with pytest.raises(ServerStartError, match="incompatible"):
        BackgroundServer(db).start()

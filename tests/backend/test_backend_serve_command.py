"""``ehr-agent serve``: refuses to serve unauthenticated off loopback; serves over HTTP."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from backend_common import QUESTION, openai_model_server
from fhir_ground_truth import RawSynthea

from agent.backend_cli import register
from agent.cli_common import UserError
from fhir_fixtures.server import BackgroundServer

# The parser exactly as `ehr-agent` builds it, whichever dispatcher registers it.
_RUNNER = (
    "import argparse, sys\n"
    "from agent.backend_cli import register\n"
    "parser = argparse.ArgumentParser(prog='ehr-agent')\n"
    "register(parser.add_subparsers(dest='command', required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ehr-agent")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["serve", *argv])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "127.0.0.1"], "no authentication is configured"),
        (["--host", "0.0.0.0", "--no-auth"], "only allowed on a loopback address"),
        (["--host", "10.1.2.3", "--no-auth"], "only allowed on a loopback address"),
    ],
)
def test_serving_without_authentication_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setenv("EHR_AGENT_DATA_DIR", str(tmp_path))
    args = _parse(*argv, "--llm-url", "http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match=message) as refused:
        args.handler(args)
    assert refused.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


def test_serve_answers_over_http_and_stops_cleanly(
    tmp_path: Path, loaded_fhir_server: BackgroundServer, raw_synthea: RawSynthea
) -> None:
    patient = sorted(raw_synthea.patients)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHR_AGENT_")}
    env["EHR_AGENT_DATA_DIR"] = str(tmp_path)
    with openai_model_server() as model:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _RUNNER,
                "serve",
                "--port",
                "0",
                "--no-auth",
                "--fhir-url",
                loaded_fhir_server.base_url,
                "--llm-url",
                model.base_url,
                "--max-concurrent",
                "2",
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = _wait_for_url(process)
            ready = httpx.get(f"{url}/readyz", timeout=10)
            answered = httpx.post(
                f"{url}/v1/ask", json={"question": QUESTION, "patient": patient}, timeout=30
            )
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=20)
            assert process.stderr is not None
            log = process.stderr.read()
            process.stderr.close()
    assert ready.status_code == 200
    assert answered.status_code == 200, answered.text
    assert answered.json()["patient_id"] == patient
    assert code == 0
    assert "Application shutdown complete" in log
    assert (tmp_path / "checkpoints.sqlite").exists()


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line, re.IGNORECASE)
        if found:
            return found.group(1)
    raise AssertionError("ehr-agent serve did not start:\n" + "".join(seen))

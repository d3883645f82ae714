"""``ehr-agent chat`` as a plain process: startup failures and piped (non-terminal) input."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from chat_clinician_model import CHOLESTEROL_ANSWER, CHOLESTEROL_Q
from chat_servers import RestartableFHIR, RestartableModel
from chat_terminal import ChatPlace, clean_env
from chat_truth import ChatTruth

from agent.cli_common import DISCLAIMER

pytestmark = pytest.mark.slow

EHR_AGENT = Path(sys.executable).with_name("ehr-agent")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_model_at_start_exits_4_naming_it(
    chat_place: ChatPlace, chat_fhir: RestartableFHIR
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    env = clean_env(
        HOME=str(chat_place.home),
        EHR_AGENT_LLM_URL=dead,
        EHR_AGENT_FHIR_URL=chat_fhir.base_url,
        EHR_AGENT_DATA_DIR=str(chat_place.data_dir),
        EHR_AGENT_LLM_MAX_RETRIES="0",
    )
    done = subprocess.run(
        [str(EHR_AGENT), "chat", "--patient", "Sylvia Monahan"],
        env=env,
        cwd=chat_place.cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4
    assert f"the model endpoint ({dead}) is unavailable" in done.stderr


def test_questions_can_be_piped_in(
    chat_place: ChatPlace,
    chat_fhir: RestartableFHIR,
    chat_model: RestartableModel,
    chat_truth: ChatTruth,
) -> None:
    env = clean_env(
        HOME=str(chat_place.home),
        EHR_AGENT_LLM_URL=chat_model.base_url,
        EHR_AGENT_FHIR_URL=chat_fhir.base_url,
        EHR_AGENT_DATA_DIR=str(chat_place.data_dir),
        COLUMNS="200",
    )
    done = subprocess.run(
        [str(EHR_AGENT), "chat", "--patient", chat_truth.id_of("Sylvia")],
        input=f"{CHOLESTEROL_Q}\n/export out.md\n",
        env=env,
        cwd=chat_place.cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert DISCLAIMER in done.stdout
    assert f"Sylvia Monahan › {CHOLESTEROL_Q}\n" in done.stdout  # the piped line, echoed
    assert f"{CHOLESTEROL_ANSWER} [1]." in done.stdout
    assert f"[1] Condition/{chat_truth.hyperlipidemia}" in done.stdout
    assert done.stdout.rstrip().endswith("bye")
    assert f"[Condition/{chat_truth.hyperlipidemia}]" in (chat_place.cwd / "out.md").read_text()

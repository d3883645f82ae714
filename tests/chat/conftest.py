"""Fixtures of the chat tests: a FHIR server that can go down, a scripted model, a terminal.

The FHIR server is this test's own (it is stopped and restarted on the same port),
holding three of the shared Synthea patients: Minh and Sylvia Monahan (two patients
matching "Monahan") and Clemente Kreiger. Ground truth is read from the raw bundles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_servers import RestartableFHIR, RestartableModel
from chat_terminal import ChatPlace, ChatTerminal, clean_env
from chat_truth import CHAT_PATIENTS, ChatTruth, read_chat_truth


@pytest.fixture(scope="session")
def chat_bundles(synthea_dir: Path) -> list[Path]:
    return [next(synthea_dir.glob(f"{prefix}*.json.gz")) for prefix in CHAT_PATIENTS]


@pytest.fixture(scope="session")
def chat_truth(chat_bundles: list[Path]) -> ChatTruth:
    return read_chat_truth(chat_bundles)


@pytest.fixture
def chat_fhir(tmp_path: Path, chat_bundles: list[Path]) -> Iterator[RestartableFHIR]:
    fhir = RestartableFHIR(tmp_path / "fhir.sqlite", chat_bundles)
    try:
        yield fhir
    finally:
        fhir.stop()


@pytest.fixture
def chat_model() -> Iterator[RestartableModel]:
    model = RestartableModel()
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture
def chat_place(tmp_path: Path) -> ChatPlace:
    place = ChatPlace(tmp_path / "work", tmp_path / "home", tmp_path / "data")
    place.cwd.mkdir()
    place.home.mkdir()
    return place


@pytest.fixture
def open_chat(
    chat_place: ChatPlace, chat_fhir: RestartableFHIR, chat_model: RestartableModel
) -> Iterator[Callable[..., ChatTerminal]]:
    """Start ``ehr-agent chat ARGS`` on a pseudo-terminal against the test's servers."""
    started: list[ChatTerminal] = []

    def start(*args: str) -> ChatTerminal:
        env = clean_env(
            HOME=str(chat_place.home),
            EHR_AGENT_LLM_URL=chat_model.base_url,
            EHR_AGENT_FHIR_URL=chat_fhir.base_url,
            EHR_AGENT_DATA_DIR=str(chat_place.data_dir),
            # One quick retry, so an outage is reported in about a second.
            EHR_AGENT_FHIR_MAX_RETRIES="1",
            EHR_AGENT_FHIR_RETRY_BUDGET_S="2",
            EHR_AGENT_LLM_MAX_RETRIES="1",
        )
        env.pop("XDG_DATA_HOME", None)
        terminal = ChatTerminal(list(args), env=env, cwd=chat_place.cwd)
        started.append(terminal)
        return terminal

    try:
        yield start
    finally:
        for terminal in started:
            terminal.close()


@pytest.fixture(autouse=True)
def _ctrl_c_reaches_the_chat() -> Iterator[None]:
    """Ctrl-C as in a terminal: Python's KeyboardInterrupt handler, here and in children.

    Earlier tests in the same run (servers, multiprocessing workers) can leave SIGINT
    ignored, and an ignored signal stays ignored in every process spawned afterwards.
    """
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

"""The chat loop in-process: commands, user mistakes, and what is never logged.

The chat runs against the test's FHIR server and the scripted model over HTTP, exactly
as in the terminal; only the keyboard (a list of lines) and the screen (a rich console
writing to a string) are replaced.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from chat_clinician_model import CHOLESTEROL_ANSWER, CHOLESTEROL_Q
from chat_servers import RestartableFHIR, RestartableModel
from chat_truth import ChatTruth
from rich.console import Console

from agent.chat.app import ChatApp
from agent.chat.background_loop import BackgroundLoop
from agent.chat.services import open_services
from agent.config import Settings
from agent.runtime import llm_backend


class Keyboard:
    """Types the given lines, records the prompts, then presses Ctrl-D."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


def _run_chat(settings: Settings, keyboard: Keyboard, patient: str | None = None) -> str:
    screen = io.StringIO()
    with llm_backend(settings) as backend, BackgroundLoop() as loop:
        services = loop.hold(open_services(settings, backend.model, vision=backend.vision))
        app = ChatApp(
            console=Console(file=screen, width=200, color_system=None),
            loop=loop,
            services=services,
            model_label="scripted",
            read_line=keyboard,
        )
        assert app.run(patient) == 0
    return screen.getvalue()


@pytest.fixture
def settings(tmp_path: Path, chat_fhir: RestartableFHIR, chat_model: RestartableModel) -> Settings:
    return Settings.load(
        {
            "fhir_url": chat_fhir.base_url,
            "llm_url": chat_model.base_url,
            "data_dir": tmp_path / "data",
            "fhir_max_retries": 1,
            "fhir_retry_budget_s": 2,
        },
        environ={},
    )


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    # As `ehr-agent` itself does (agent.cli.main): httpx would log query strings at INFO.
    caplog.set_level(logging.WARNING, logger="httpx")
    return caplog


def test_commands_and_mistakes_keep_the_chat_going(
    settings: Settings,
    chat_truth: ChatTruth,
    everything_logged: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    sylvia = chat_truth.id_of("Sylvia")
    keyboard = Keyboard(
        [
            "Nobody Atall",  # no match: asked again
            "Monahan",
            "7",  # not on the list
            "Sylvia Monahan",  # a name instead of a number: looked up
            "/steps",
            "/export",
            "/evidence",
            "/evidence C1",
            "/as-of",
            "/patient",
            CHOLESTEROL_Q,
            "/steps",
            "/steps 5",
            f"/export {tmp_path / 'missing' / 'chat.md'}",
            "/reset",
            "/sources",
            "/evidence 1",
            "/patient Monahan [/b]",  # text that would be rich markup, shown as typed
            "",  # cancel the choice: the conversation stays
            "/patient Nobody Atall",
        ]
    )
    screen = _run_chat(settings, keyboard)

    assert "no patient with id or name 'Nobody Atall'" in screen
    assert "2 patients match 'Monahan':" in screen
    assert "choose a number from 1 to 2" in screen
    assert keyboard.prompts[:4] == [
        "Patient (id or name; Enter to quit): ",
        "Patient (id or name; Enter to quit): ",
        "Choose 1-2, or type another id or name (Enter to cancel): ",
        "Choose 1-2, or type another id or name (Enter to cancel): ",
    ]
    assert set(keyboard.prompts[4:-3]) == {"Sylvia Monahan › "}
    assert "no questions yet" in screen
    assert "nothing to export yet: ask a question first" in screen
    assert "usage: /evidence N, /evidence HANDLE or /evidence Type/id" in screen
    assert "C1 was not retrieved in this conversation (see /sources)" in screen
    assert f"as of {date.today().isoformat()}" in screen
    assert screen.count(f"id {sylvia}") == 3  # picked, /patient, /reset
    assert "this conversation" in screen  # /patient without an argument

    assert f"{CHOLESTEROL_ANSWER} [1]." in screen
    assert "question 1: Does she have a cholesterol problem?" in screen
    assert "  search type=Condition: 7 rows" in screen
    assert "/steps takes a question number from 1 to 1" in screen
    assert "folder" in screen
    assert "does not exist" in screen
    assert not (tmp_path / "missing").exists()

    # /reset: a new conversation, nothing retrieved or cited in it yet.
    assert screen.count("new conversation") == 2
    assert "nothing retrieved yet in this conversation" in screen
    assert "no citation [1] (citations: none yet)" in screen
    assert "2 patients match 'Monahan [/b]':" in screen
    assert keyboard.prompts[-3:] == [
        "Choose 1-2, or type another id or name (Enter to cancel): ",
        "Sylvia Monahan › ",
        "Sylvia Monahan › ",
    ]
    assert screen.rstrip().endswith("bye")

    logged = "\n".join(r.getMessage() for r in everything_logged.records)
    for secret in (sylvia, "Sylvia", "Monahan", "Hyperlipidemia", chat_truth.hyperlipidemia):
        assert secret not in logged


def test_leaving_at_the_patient_prompt(settings: Settings) -> None:
    keyboard = Keyboard([""])
    screen = _run_chat(settings, keyboard)
    assert keyboard.prompts == ["Patient (id or name; Enter to quit): "]
    assert "Research and engineering tool, not a medical device" in screen
    assert screen.rstrip().endswith("bye")


def test_a_fhir_outage_during_the_patient_lookup_is_reported(
    settings: Settings, chat_fhir: RestartableFHIR
) -> None:
    chat_fhir.stop()
    keyboard = Keyboard([])
    screen = _run_chat(settings, keyboard, patient="Sylvia Monahan")
    assert "the FHIR server failed: " in screen
    assert "cannot connect" in screen
    assert keyboard.prompts == ["Patient (id or name; Enter to quit): "]

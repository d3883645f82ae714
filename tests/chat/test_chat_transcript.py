"""``/export``: the transcript's content, and writing it atomically."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agent.chat.conversation import Conversation
from agent.chat.transcript import ExportError, TranscriptHeader, render_transcript, write
from agent.cli_common import DISCLAIMER
from agent.events import event
from agent.llm import ScriptedChatModel
from agent.session import AgentSession
from tools.fhir import FHIRClient
from tools.patients import PatientChoice

PATIENT = PatientChoice(id="p-1", name="Ada Example", gender="female", birth_date="1950-01-02")
HEADER = TranscriptHeader(
    model="scripted at http://127.0.0.1:1/v1",
    fhir="http://127.0.0.1:2",
    as_of=date(2020, 5, 1),
    exported_at=datetime(2020, 5, 2, 10, 30, tzinfo=UTC),
)


@pytest.fixture
async def conversation() -> AsyncIterator[Conversation]:
    # A session that never runs: the transcript only reads what the chat recorded.
    async with FHIRClient("http://127.0.0.1:9") as client:
        session = AgentSession(
            client=client,
            model=ScriptedChatModel.from_steps(),
            patient_id=PATIENT.id,
            as_of=HEADER.as_of,
        )
        yield Conversation(session, PATIENT)


def _answer(conversation: Conversation, question: str, result: dict[str, object]) -> None:
    turn = conversation.begin(question)
    conversation.record(turn, event("evidence", "act", "search type=Condition", rows=4, text=""))
    conversation.record(turn, event("final", "", str(result["answer"]), result=result))


def _result(answer: str, citations: list[str], **extra: object) -> dict[str, object]:
    usage = {
        "llm_calls": 3,
        "prompt_tokens": 900,
        "completion_tokens": 40,
        "fhir_requests": 5,
        "seconds": 1.25,
    }
    evidence = [{"ref": ref, "summary": f"summary of {ref}"} for ref in citations]
    return {
        "answer": answer,
        "value": None,
        "unit": None,
        "citations": citations,
        "verified": True,
        "usage": usage,
        "evidence": evidence,
        **extra,
    }


async def test_the_transcript_keeps_questions_answers_citations_usage_and_failures(
    conversation: Conversation,
) -> None:
    _answer(
        conversation,
        "Latest HbA1c?",
        _result("It was 7.1 % [Observation/o-1].", ["Observation/o-1"], value=7.1, unit="%"),
    )
    failed = conversation.begin("Any   allergies?")
    conversation.record(failed, event("error", "", "the FHIR server failed: timed out"))
    stopped = conversation.begin("Explain slowly")
    conversation.stop(stopped)
    _answer(
        conversation,
        "Since when?",
        _result("Since 2019 [Condition/c-2].", ["Condition/c-2"], verified=False),
    )

    text = render_transcript(conversation, HEADER)

    assert text.startswith(f"# ehr-agent chat transcript\n\n> {DISCLAIMER}\n")
    assert "- Patient: Ada Example (female, born 1950-01-02), id `p-1`" in text
    assert "- Reference date: 2020-05-01" in text
    assert f"- Conversation: `{conversation.session.thread_id}`" in text
    assert (
        "## 1. Latest HbA1c?\n\nIt was 7.1 % [Observation/o-1].\n\nValue: **7.1 %**\n\n"
        "Citations: verified\n\n- [Observation/o-1] summary of Observation/o-1\n\n"
        "Usage: 1 query, 4 rows; 3 model calls (900 prompt + 40 completion tokens); "
        "5 FHIR requests; 1.2 s\n"
    ) in text
    assert "## 2. Any allergies?\n\n*No answer: the FHIR server failed: timed out*\n" in text
    assert "## 3. Explain slowly\n\n*Stopped before an answer was given.*\n" in text
    assert "## 4. Since when?\n\nSince 2019 [Condition/c-2].\n\nCitations: **NOT verified**" in text
    assert "2 answered questions; 6 model calls (1800 prompt + 80 completion tokens)" in text
    assert text.rstrip().endswith(f"*{DISCLAIMER}*")


def test_write_replaces_the_file_whole_and_keeps_it_private(tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("old", encoding="utf-8")
    write(target, "# new transcript\n")
    assert target.read_text(encoding="utf-8") == "# new transcript\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["chat.md"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    occupied = tmp_path / "taken.md"
    occupied.mkdir()  # a folder where the file should go: the final rename fails
    with pytest.raises(ExportError, match="cannot write"):
        write(occupied, "# transcript\n")
    assert os.listdir(tmp_path) == ["taken.md"]
    assert list(occupied.iterdir()) == []
    with pytest.raises(ExportError, match="does not exist"):
        write(tmp_path / "missing" / "chat.md", "# transcript\n")
    assert os.listdir(tmp_path) == ["taken.md"]

"""``ehr-agent chat`` end to end, in a real pseudo-terminal.

The chat runs as a subprocess against this test's FHIR server (three shared Synthea
patients) and a scripted model behind the real OpenAI-compatible HTTP API. Expected ids
come from the raw bundles (``chat_truth``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from chat_clinician_model import (
    CHOLESTEROL_ANSWER,
    CHOLESTEROL_Q,
    FOLLOW_UP_ANSWER,
    FOLLOW_UP_Q,
    MEDICATION_ANSWER,
    MEDICATION_Q,
    SLOW_Q,
    current_question,
    prompt_text,
)
from chat_servers import RestartableFHIR, RestartableModel
from chat_terminal import ChatPlace, ChatTerminal
from chat_truth import ChatTruth

from agent.cli_common import DISCLAIMER

pytestmark = pytest.mark.slow

SYLVIA_PROMPT = "Sylvia Monahan › "


def _nothing_written(place: ChatPlace, *allowed: str) -> None:
    assert sorted(p.name for p in place.cwd.iterdir()) == sorted(allowed)
    assert list(place.home.iterdir()) == []
    assert not place.data_dir.exists() or list(place.data_dir.iterdir()) == []


def test_a_conversation_picked_by_name_with_sources_evidence_and_export(
    open_chat: Callable[..., ChatTerminal],
    chat_truth: ChatTruth,
    chat_model: RestartableModel,
    chat_place: ChatPlace,
) -> None:
    sylvia, minh = chat_truth.id_of("Sylvia"), chat_truth.id_of("Minh")
    hyper = f"Condition/{chat_truth.hyperlipidemia}"
    chat = open_chat()
    assert DISCLAIMER in chat.expect("Patient (id or name")

    # Two patients match: a numbered list, and the number picks one.
    chat.line("Monahan")
    listing = chat.expect("Choose 1-2")
    numbered = {
        line.split()[0]: line for line in listing.splitlines() if re.match(r"\s*\d+\s", line)
    }
    assert len(numbered) == 2
    assert any(minh in line and "Minh Monahan" in line for line in numbered.values())
    choice = next(n for n, line in numbered.items() if sylvia in line)
    chat.line(choice)
    banner = chat.expect(SYLVIA_PROMPT)
    assert f"Sylvia Monahan · female · born 1952-05-23 · id {sylvia}" in banner
    assert f"as of    {date.today().isoformat()} (today)" in banner

    chat.line(CHOLESTEROL_Q)
    answer = chat.expect(SYLVIA_PROMPT)
    assert "search type=Condition" in answer  # the step, shown while it ran
    assert f"{CHOLESTEROL_ANSWER} [1]." in answer
    assert re.search(rf"\[1\] {hyper} Hyperlipidemia: active, onset 2009-02-06", answer)
    assert re.search(r"✓ verified · 2 queries, \d+ rows · 3 model calls", answer)

    # The follow-up is asked with the first turn in the model's prompt.
    chat.line(FOLLOW_UP_Q)
    answer = chat.expect(SYLVIA_PROMPT)
    assert f"{FOLLOW_UP_ANSWER} [1]." in answer
    follow_ups = [prompt_text(r) for r in chat_model.requests if current_question(r) == FOLLOW_UP_Q]
    assert len(follow_ups) == 2  # plan, answer
    for text in follow_ups:
        assert f"Earlier question: {CHOLESTEROL_Q}" in text
        assert f"Earlier answer: {CHOLESTEROL_ANSWER} [" in text

    # /sources lists every condition the search returned, with handles and numbers.
    chat.line("/sources")
    sources = chat.expect(SYLVIA_PROMPT)
    for condition_id in chat_truth.conditions:
        assert f"Condition/{condition_id}" in sources
    row = next(line for line in sources.splitlines() if hyper in line)
    number, handle = row.split()[:2]
    assert number == "[1]"
    assert re.fullmatch(r"C\d+", handle)

    # /evidence by number, handle or reference: the lines the model read, and the output.
    for key in ("1", handle, hyper):
        chat.line(f"/evidence {key}")
        evidence = chat.expect(SYLVIA_PROMPT)
        assert f"[1] {hyper}  handle {handle}" in evidence
        assert "cited in answer 1, 2" in evidence
        line = f"Hyperlipidemia: active, onset 2009-02-06 [{handle}]  ← search type=Condition"
        assert line in evidence
        assert "tool output: search type=Condition (question 1)" in evidence
    chat.line("/evidence 9")
    assert "no citation [9] (citations: 1 to 1)" in chat.expect(SYLVIA_PROMPT)

    # Unknown commands are explained, never sent to the model.
    asked = len(chat_model.requests)
    chat.line("/sorces")
    assert "unknown command /sorces; did you mean /sources?" in chat.expect(SYLVIA_PROMPT)
    chat.line("/help")
    shown = chat.expect(SYLVIA_PROMPT)
    assert "/evidence N|HANDLE|Type/id" in shown
    assert "Ctrl-C while answering" in shown
    assert len(chat_model.requests) == asked

    chat.line("/export transcript.md")
    assert "wrote transcript.md (2 questions)" in chat.expect(SYLVIA_PROMPT)
    chat.line("/quit")
    chat.expect("bye")
    assert chat.exit_status() == 0

    transcript = (chat_place.cwd / "transcript.md").read_text(encoding="utf-8")
    assert f"id `{sylvia}`" in transcript
    assert f"## 1. {CHOLESTEROL_Q}\n\n{CHOLESTEROL_ANSWER} [{hyper}].\n" in transcript
    assert f"## 2. {FOLLOW_UP_Q}\n\n{FOLLOW_UP_ANSWER} [{hyper}].\n" in transcript
    assert transcript.count(f"- [{hyper}] Hyperlipidemia: active, onset 2009-02-06\n") == 2
    assert transcript.count("Citations: verified") == 2
    assert re.search(r"Usage: 2 queries, \d+ rows; 3 model calls \(\d+ prompt", transcript)
    assert transcript.count(DISCLAIMER) == 2
    _nothing_written(chat_place, "transcript.md")


def test_ctrl_c_stops_an_answer_and_twice_at_the_prompt_leaves(
    open_chat: Callable[..., ChatTerminal], chat_truth: ChatTruth, chat_place: ChatPlace
) -> None:
    hyper = f"Condition/{chat_truth.hyperlipidemia}"
    chat = open_chat("--patient", "Sylvia Monahan")
    chat.expect(SYLVIA_PROMPT)

    # The answer streams in word by word (one a second here), and Ctrl-C stops it.
    chat.line(SLOW_Q)
    chat.expect("This answer is written very")
    assert "it can be stopped" not in chat.unread()
    stopped = chat.interrupt_until("■ stopped after")
    stopped += chat.expect(SYLVIA_PROMPT)
    assert "■ stopped after" in stopped
    assert "before it ends" not in stopped + chat.unread()

    chat.line(CHOLESTEROL_Q)
    answer = chat.expect(SYLVIA_PROMPT)
    assert f"{CHOLESTEROL_ANSWER} [1]." in answer
    assert f"[1] {hyper}" in answer

    chat.interrupt_until("Ctrl-C again to leave")
    chat.expect(SYLVIA_PROMPT)
    chat.interrupt_until("bye")
    assert chat.exit_status() == 0
    _nothing_written(chat_place)


def test_fhir_and_model_outages_end_a_question_not_the_chat(
    open_chat: Callable[..., ChatTerminal],
    chat_truth: ChatTruth,
    chat_fhir: RestartableFHIR,
    chat_model: RestartableModel,
) -> None:
    sylvia, clemente = chat_truth.id_of("Sylvia"), chat_truth.id_of("Clemente")
    chat = open_chat("--patient", sylvia, "--as-of", "2012-01-01")
    banner = chat.expect(SYLVIA_PROMPT)
    assert f"id {sylvia}" in banner
    assert "as of    2012-01-01" in banner
    chat.line(CHOLESTEROL_Q)
    assert CHOLESTEROL_ANSWER in chat.expect(SYLVIA_PROMPT)

    chat_fhir.stop()
    chat.line(MEDICATION_Q)
    failed = chat.expect(SYLVIA_PROMPT)
    assert "✗ the FHIR server failed:" in failed
    assert "ask again once it is back" in failed
    chat_fhir.restart()
    chat.line(MEDICATION_Q)
    answer = chat.expect(SYLVIA_PROMPT)
    assert f"{MEDICATION_ANSWER} [2]." in answer
    cited = re.findall(r"\[2\] MedicationRequest/([0-9a-f-]{36})", answer)
    assert len(cited) == 1
    assert chat_truth.simvastatin[cited[0]] <= "2012-01-01"

    chat_model.stop()
    chat.line(FOLLOW_UP_Q)
    failed = chat.expect(SYLVIA_PROMPT)
    assert "✗ the language model failed:" in failed
    assert "unreachable" in failed
    assert "ask again once it is back" in failed
    chat_model.restart()
    chat.line(FOLLOW_UP_Q)
    assert f"{FOLLOW_UP_ANSWER} [1]." in chat.expect(SYLVIA_PROMPT)

    chat.line("/patient Kreiger")
    switched = chat.expect("Clemente Kreiger › ")
    assert "new conversation" in switched
    assert f"id {clemente}" in switched
    chat.line("/as-of 2000-01-01")
    assert "as of    2000-01-01" in chat.expect("Clemente Kreiger › ")
    chat.line("/as-of last week")
    assert "/as-of takes a date YYYY-MM-DD or 'today'" in chat.expect("Clemente Kreiger › ")
    chat.end_of_input()
    chat.expect("bye")
    assert chat.exit_status() == 0

from __future__ import annotations

import pytest

from agent.llm.thinking import ThinkingFilter, strip_thinking

MEDGEMMA = "<unused94>thought\nThe HbA1c went from 8.1 to 6.9.<unused95>Yes, it improved."


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        (MEDGEMMA, "Yes, it improved."),
        ('<think>check labs</think>\n\n{"tool": "labs"}', '{"tool": "labs"}'),
        # Generation stopped while thinking: no answer at all, never the thought.
        ("<unused94>thought\nstill reasoning about", ""),
        # The opening token was dropped by the server: everything before the close goes.
        ("thought\nreasoning<unused95>Answer.", "Answer."),
        ("before <think>a</think>middle<think>b</think> after", "before middle after"),
        ("plain answer, no thinking", "plain answer, no thinking"),
        ("  kept as is  ", "  kept as is  "),
    ],
)
def test_strip_thinking(raw: str, visible: str) -> None:
    assert strip_thinking(raw) == visible


def _stream(text: str, size: int) -> str:
    flt = ThinkingFilter()
    pieces = [flt.feed(text[i : i + size]) for i in range(0, len(text), size)]
    return "".join(pieces) + flt.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
@pytest.mark.parametrize(
    "raw",
    [
        MEDGEMMA,
        '<think>x</think>{"a": 1}',
        "<unused94>thought\nunterminated",
        "no markers <here> at all <unused9",
        "answer with a lone < sign and <unused",
    ],
)
def test_streaming_filter_matches_whole_text_for_any_chunking(raw: str, size: int) -> None:
    assert _stream(raw, size) == strip_thinking(raw)


def test_streaming_filter_holds_back_a_possible_marker_until_decided() -> None:
    flt = ThinkingFilter()
    assert flt.feed("Yes <unu") == "Yes "
    assert flt.feed("sed94>thought secret") == ""
    assert flt.feed("<unused95> done") == " done"
    assert flt.flush() == ""


def test_streaming_filter_releases_a_false_alarm_at_the_end() -> None:
    flt = ThinkingFilter()
    assert flt.feed("a <thi") == "a "
    assert flt.flush() == "<thi"

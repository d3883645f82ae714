r"""Removing a model's thinking from what it says.

MedGemma 27B (text) thinks before answering, between the Gemma tokens ``<unused94>`` and
``<unused95>``: ``<unused94>thought\n...reasoning...<unused95>answer``. Public MedGemma
client code strips exactly that span (the 4B and 1.5 models do the same); llama.cpp and
vLLM pass the two tokens through as text unless a reasoning parser is configured. Qwen
and DeepSeek style models use ``<think>...</think>``. Thinking is never the answer and
never valid JSON, so it is removed before the text is shown or parsed.
"""

from __future__ import annotations

__all__ = ["THINKING_MARKERS", "ThinkingFilter", "strip_thinking"]

# (open, close) pairs, most specific first.
THINKING_MARKERS: tuple[tuple[str, str], ...] = (
    ("<unused94>", "<unused95>"),
    ("<think>", "</think>"),
)


def strip_thinking(text: str) -> str:
    """Return ``text`` without thinking blocks.

    A block whose closing marker is missing (generation stopped while thinking) removes
    everything after its opening marker. A closing marker without an opening one (some
    servers drop the opening special token, or a chat template pre-fills it) removes
    everything before it.
    """
    if not any(marker in text for marker in _ALL_MARKERS):
        return text
    result = text
    for open_marker, close_marker in THINKING_MARKERS:
        if close_marker in result and open_marker not in result.split(close_marker, 1)[0]:
            result = result.split(close_marker, 1)[1]
        pieces: list[str] = []
        rest = result
        while open_marker in rest:
            before, after = rest.split(open_marker, 1)
            pieces.append(before)
            if close_marker not in after:
                rest = ""
                break
            rest = after.split(close_marker, 1)[1]
        pieces.append(rest)
        result = "".join(pieces)
    return result.strip()


class ThinkingFilter:
    """Incremental :func:`strip_thinking` for streamed tokens.

    Feed each text delta to :meth:`feed` and show what it returns; call :meth:`flush`
    at the end. Text that might be the start of a marker split across deltas is held
    back until it is decided. Limitation: a closing marker with no opening marker cannot
    retract text already shown, so it is only dropped itself.
    """

    def __init__(self) -> None:
        """Start outside any thinking block."""
        self._inside: str | None = None  # the closing marker we wait for
        self._pending = ""
        self._started = False

    def feed(self, delta: str) -> str:
        """Consume a delta and return the visible part that is now certain."""
        self._pending += delta
        out: list[str] = []
        while self._pending:
            if self._inside is not None:
                index = self._pending.find(self._inside)
                if index < 0:
                    keep = _partial_suffix(self._pending, (self._inside,))
                    self._pending = self._pending[len(self._pending) - keep :]
                    break
                self._pending = self._pending[index + len(self._inside) :]
                self._inside = None
                continue
            hit = _first_marker(self._pending)
            if hit is None:
                keep = _partial_suffix(self._pending, _ALL_MARKERS)
                out.append(self._pending[: len(self._pending) - keep])
                self._pending = self._pending[len(self._pending) - keep :]
                break
            index, marker = hit
            out.append(self._pending[:index])
            self._pending = self._pending[index + len(marker) :]
            close = _CLOSE_FOR_OPEN.get(marker)
            if close is not None:
                self._inside = close
        return self._visible("".join(out))

    def flush(self) -> str:
        """Return what is still held back once the stream has ended."""
        pending, self._pending = self._pending, ""
        if self._inside is not None:
            return ""
        return self._visible(pending)

    def _visible(self, text: str) -> str:
        # Leading whitespace left behind by a removed block is not part of the answer.
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


_CLOSE_FOR_OPEN = dict(THINKING_MARKERS)
_ALL_MARKERS: tuple[str, ...] = tuple(m for pair in THINKING_MARKERS for m in pair)


def _first_marker(text: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for marker in _ALL_MARKERS:
        index = text.find(marker)
        if index >= 0 and (best is None or index < best[0]):
            best = (index, marker)
    return best


def _partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a marker."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), 0, -1):
            if marker.startswith(text[-size:]):
                longest = max(longest, size)
                break
    return longest

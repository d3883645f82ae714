"""Streaming the answer's text out of a JSON reply while it is being generated.

The answer node asks for ``{"answer": "...", "citations": [...], ...}``; front ends want
the text of ``answer`` token by token. :class:`AnswerTextStream` reads the raw deltas
(thinking blocks removed first) and returns each newly decoded piece of that one string.
"""

from __future__ import annotations

import json
import re

from agent.llm.thinking import ThinkingFilter

__all__ = ["AnswerTextStream"]

_KEY = re.compile(r'"answer"\s*:\s*"')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class AnswerTextStream:
    """Incremental extractor of the top-level ``answer`` string of a JSON object."""

    def __init__(self) -> None:
        """Start before the key has been seen."""
        self._thinking = ThinkingFilter()
        self._buffer = ""
        self._position = -1  # index just after the opening quote, once found
        self._done = False

    def feed(self, delta: str) -> str:
        """Consume a delta of the raw reply; return newly decoded answer text."""
        if self._done:
            return ""
        self._buffer += self._thinking.feed(delta)
        if self._position < 0:
            match = _KEY.search(self._buffer)
            if match is None:
                return ""
            self._position = match.end()
        out: list[str] = []
        i = self._position
        text = self._buffer
        while i < len(text):
            ch = text[i]
            if ch == '"':
                self._done = True
                i += 1
                break
            if ch == "\\":
                if i + 1 >= len(text):
                    break  # the escape is split across deltas
                code = text[i + 1]
                if code == "u":
                    if i + 6 > len(text):
                        break
                    try:
                        out.append(json.loads(f'"{text[i : i + 6]}"'))
                    except json.JSONDecodeError:
                        out.append(text[i : i + 6])
                    i += 6
                    continue
                out.append(_ESCAPES.get(code, code))
                i += 2
                continue
            out.append(ch)
            i += 1
        self._position = i
        return "".join(out)

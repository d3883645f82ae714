"""Token estimates and output budgets.

The budget is counted in approximate tokens so that it means the same thing for every
model. The estimate counts each digit as a token (Gemma and Qwen tokenizers split
numbers into single digits, and clinical evidence is full of dates and values) and
about four characters per token for the rest. It has not been compared with a real
tokenizer yet (no tokenizer package is installed here; the embedded models' GGUF
vocabularies would do).
"""

from __future__ import annotations

__all__ = ["OutputBudget", "estimate_tokens"]


_NO_DIGITS = str.maketrans("", "", "0123456789")


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (ASCII digits count one token each)."""
    digits = len(text) - len(text.translate(_NO_DIGITS))
    return digits + (len(text) - digits + 3) // 4


class OutputBudget:
    """Accumulates lines until a token budget is spent, counting what was cut."""

    def __init__(self, max_tokens: int) -> None:
        """Start an empty output limited to ``max_tokens``."""
        self.max_tokens = max_tokens
        self.used = 0
        self.lines: list[str] = []
        self.cut = 0

    def fits(self, line: str) -> bool:
        """Whether ``line`` still fits."""
        return self.used + estimate_tokens(line) + 1 <= self.max_tokens

    def add(self, line: str, *, force: bool = False) -> bool:
        """Append ``line`` if it fits (or ``force``); otherwise count it as cut."""
        if force or self.fits(line):
            self.lines.append(line)
            self.used += estimate_tokens(line) + 1
            return True
        self.cut += 1
        return False

    def text(self) -> str:
        """The accumulated lines."""
        return "\n".join(self.lines)

"""Numbered citations for the terminal: ``[1]``, ``[2]``... instead of long ``Type/id``.

The agent's answers cite ``[Observation/<uuid>]``, and its streamed text cites short
handles such as ``[O3]``. On screen both become one conversation-wide number per
resource, in the order resources are first cited, so ``[2]`` means the same resource in
every answer of a conversation and ``/evidence 2`` opens it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tools.citations import CITATION_PATTERN

__all__ = ["CitationNumbers", "NumberedText", "cited_in_order"]

#: A piece of answer text: (text, None) or (label such as "[3]", the Type/id it cites).
NumberedText = list[tuple[str, str | None]]


def cited_in_order(answer: str, citations: Iterable[str]) -> list[str]:
    """``Type/id`` cited by an answer: inline order first, then the rest of the list."""
    inline = [m.group(1) for m in CITATION_PATTERN.finditer(answer) if "/" in m.group(1)]
    return list(dict.fromkeys([*inline, *citations]))


class CitationNumbers:
    """Conversation-wide numbers for cited resources, in first-cited order."""

    def __init__(self) -> None:
        self._by_ref: dict[str, int] = {}
        self._refs: list[str] = []

    def assign(self, refs: Iterable[str]) -> list[int]:
        """The numbers of ``refs``, giving the next free number to each new one."""
        out = []
        for ref in refs:
            if ref not in self._by_ref:
                self._refs.append(ref)
                self._by_ref[ref] = len(self._refs)
            out.append(self._by_ref[ref])
        return out

    def number(self, ref: str) -> int | None:
        """The number of ``ref``, if it has been cited."""
        return self._by_ref.get(ref)

    def ref(self, number: int) -> str | None:
        """The ``Type/id`` numbered ``number``, if any."""
        return self._refs[number - 1] if 1 <= number <= len(self._refs) else None

    def __len__(self) -> int:
        return len(self._refs)

    def label(self, text: str, resolve: Callable[[str], str | None]) -> NumberedText:
        """Split ``text`` into plain pieces and numbered citation labels.

        ``resolve`` turns what is between brackets (a handle or a ``Type/id``) into the
        ``Type/id`` it cites, or None; unresolved brackets stay as written. Resources not
        numbered yet get the numbers they would get next (the streamed text is shown
        before the answer is final), without being numbered.

        Args:
            text: Answer text with ``[handle]`` or ``[Type/id]`` citations.
            resolve: Citation token to ``Type/id``.
        """
        pieces: NumberedText = []
        upcoming: dict[str, int] = {}
        position = 0
        for match in CITATION_PATTERN.finditer(text):
            ref = resolve(match.group(1))
            if ref is None:
                continue
            number = self._by_ref.get(ref)
            if number is None:
                number = upcoming.setdefault(ref, len(self._refs) + len(upcoming) + 1)
            if match.start() > position:
                pieces.append((text[position : match.start()], None))
            pieces.append((f"[{number}]", ref))
            position = match.end()
        if position < len(text):
            pieces.append((text[position:], None))
        return pieces

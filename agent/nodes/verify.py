"""``verify`` (deterministic): every citation must be evidence this session retrieved.

Citations come from the answer's ``citations`` list and from ``[handles]`` in its text.
Each must resolve to a resource a tool showed the model. A draft with a citation that
does not, or with none at all, goes back to ``answer`` once with the reason; after that
the answer is kept but marked unverified, and the bad citations are dropped.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.events import event
from agent.state import AgentState, Turn
from tools.citations import CITATION_PATTERN
from tools.render import render_record

__all__ = ["route_after_verify", "verify"]

MAX_REPAIRS = 1


def _cited(draft: dict[str, Any]) -> list[str]:
    listed = [str(c).strip().strip("[]") for c in draft.get("citations") or []]
    inline = [m.group(1) for m in CITATION_PATTERN.finditer(str(draft.get("answer", "")))]
    return list(dict.fromkeys(c for c in [*listed, *inline] if c))


def _rewrite(text: str, mapping: dict[str, str | None]) -> str:
    """Handles in the answer text become ``[Type/id]``; unresolvable ones are removed."""

    def swap(match: re.Match[str]) -> str:
        ref = mapping.get(match.group(1))
        return f"[{ref}]" if ref else ""

    return re.sub(r"\s+(?=[.,;:])", "", CITATION_PATTERN.sub(swap, text)).strip()


def _rewrite_handles_only(text: str, mapping: dict[str, str | None]) -> str:
    """The model's own text without citations that do not resolve (handles kept)."""

    def keep(match: re.Match[str]) -> str:
        return match.group(0) if mapping.get(match.group(1)) else ""

    return CITATION_PATTERN.sub(keep, text).strip()


async def verify(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Check the draft's citations; ask for one repair, then accept or mark unverified."""
    ctx = runtime.context
    prompts = ctx.options.prompts
    draft = state.get("draft") or {}
    cited = _cited(draft)
    mapping = {c: ctx.session.resolve_citation(c) for c in cited}
    bad = [c for c, ref in mapping.items() if ref is None]
    repairs = state.get("repairs", 0)
    uncited = not cited and ctx.options.require_citations
    if (bad or uncited) and repairs < MAX_REPAIRS:
        if bad:
            note = prompts.citation_repair.format(
                bad=", ".join(f"[{b}]" for b in bad), verb="is" if len(bad) == 1 else "are"
            )
        else:
            note = prompts.no_citation_repair
        runtime.stream_writer(
            event(
                "step",
                "verify",
                "citations do not check out; asking for a revision",
                bad=bad,
                uncited=not cited,
            )
        )
        return {"repair_note": note, "repairs": repairs + 1}
    citations = list(dict.fromkeys(ref for ref in mapping.values() if ref))
    verified = bool(cited) and not bad
    text = _rewrite(str(draft.get("answer", "")), mapping)
    runtime.stream_writer(
        event(
            "step",
            "verify",
            "answer verified" if verified else "answer NOT verified",
            verified=verified,
            citations=len(citations),
            bad=bad,
        )
    )
    cited_lines = [
        render_record(rec, ctx.session.cites)
        for ref in citations
        if (rec := ctx.session.retrieved.get(ref)) is not None and rec.display
    ]
    turn = Turn(
        question=state.get("question", ""),
        answer=text,
        citations=citations,
        answer_for_model=_rewrite_handles_only(str(draft.get("answer", "")), mapping),
        cited_lines=cited_lines,
    )
    return {
        "answer": text,
        "value": draft.get("value"),
        "unit": draft.get("unit"),
        "citations": citations,
        "verified": verified,
        "repair_note": "",
        "history": [turn],
        "handles": ctx.session.cites.known(),
    }


def route_after_verify(state: AgentState) -> Literal["answer", "__end__"]:
    """Back to ``answer`` when a repair was asked for, else done."""
    return "answer" if state.get("repair_note") else "__end__"

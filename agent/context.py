"""The run context: what a graph run may use but never change (LangGraph ``context``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from agent.prompts import DEFAULT_PROMPTS, PromptSet
from tools.session import EvidenceSession

__all__ = ["AgentContext", "AgentOptions"]


@dataclass(frozen=True)
class AgentOptions:
    """Budgets and behaviour of the agent."""

    max_steps: int = 3
    """Planning rounds per question before answering."""
    max_calls_per_step: int = 3
    max_evidence_tokens: int = 6000
    """Evidence budget per question (approximate tokens); planning stops when spent."""
    tool_mode: str = "json"
    """``json`` (JSON-schema output; the MedGemma way) or ``native`` (OpenAI tool calls)."""
    vision: bool = False
    """Whether the model takes images (view_image is offered only then)."""
    index_cache_ttl_s: float = 0.0
    """Reuse a patient's record index across sessions for this long (0: never)."""
    require_citations: bool = True
    """Ask for a repair when an answer cites nothing (off for the no-record baseline)."""
    prompts: PromptSet = field(default_factory=lambda: DEFAULT_PROMPTS)


@dataclass(frozen=True)
class AgentContext:
    """One session's fixed parts: the bound evidence session, the model and the options."""

    session: EvidenceSession
    model: BaseChatModel
    options: AgentOptions = field(default_factory=AgentOptions)
    #: PNGs returned by view_image in this process, by handle (not checkpointed: large).
    images: dict[str, bytes] = field(default_factory=dict)

"""The agent graph. Wiring only: the nodes live in ``agent.nodes``.

::

    agent:  START -> overview -> plan -(calls)-> act -(budget left)-> plan ...
                          |               `-(steps or budget spent)-> answer
                          `-(enough / no calls)--------------------> answer -> verify
    verify -(one repair)-> answer -> verify -> END
    direct: START -> intake -> answer -> verify (the baselines: full-context, no-record)
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.context import AgentContext
from agent.nodes import (
    act,
    answer,
    intake,
    overview,
    plan,
    route_after_act,
    route_after_plan,
    route_after_verify,
    verify,
)
from agent.state import AgentInput, AgentOutput, AgentState

__all__ = ["AgentGraph", "build_graph"]


AgentGraph = CompiledStateGraph[AgentState, AgentContext, AgentInput, AgentOutput]


def build_graph(
    checkpointer: BaseCheckpointSaver | None = None, *, mode: str = "agent"
) -> AgentGraph:
    """Compile the agent; pass a checkpointer for multi-turn conversations.

    ``mode="direct"`` builds the baselines' graph: no planning, the caller's
    ``context_text`` is the record (``intake -> answer -> verify``).
    """
    graph = StateGraph(
        AgentState,
        context_schema=AgentContext,
        input_schema=AgentInput,
        output_schema=AgentOutput,
    )
    if mode == "direct":
        graph.add_node("intake", intake)
        graph.add_node("answer", answer)
        graph.add_node("verify", verify)
        graph.add_edge(START, "intake")
        graph.add_edge("intake", "answer")
        graph.add_edge("answer", "verify")
        graph.add_conditional_edges("verify", route_after_verify, ["answer", END])
        return graph.compile(checkpointer=checkpointer)
    if mode != "agent":
        raise ValueError(f"mode must be 'agent' or 'direct', not {mode!r}")
    graph.add_node("overview", overview)
    graph.add_node("plan", plan)
    graph.add_node("act", act)
    graph.add_node("answer", answer)
    graph.add_node("verify", verify)
    graph.add_edge(START, "overview")
    graph.add_edge("overview", "plan")
    graph.add_conditional_edges("plan", route_after_plan, ["act", "answer"])
    graph.add_conditional_edges("act", route_after_act, ["plan", "answer"])
    graph.add_edge("answer", "verify")
    graph.add_conditional_edges("verify", route_after_verify, ["answer", END])
    return graph.compile(checkpointer=checkpointer)

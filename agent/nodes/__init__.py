"""The graph's nodes, one module each; ``agent.graph`` wires them."""

from agent.nodes.act import act, route_after_act
from agent.nodes.answer import answer
from agent.nodes.overview import intake, overview
from agent.nodes.plan import plan, route_after_plan
from agent.nodes.verify import route_after_verify, verify

__all__ = [
    "act",
    "answer",
    "intake",
    "overview",
    "plan",
    "route_after_act",
    "route_after_plan",
    "route_after_verify",
    "verify",
]

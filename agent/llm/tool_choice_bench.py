"""A small benchmark: does an embedded model pick the right evidence tool?

Five questions, each answered by exactly one tool, are put to each packaged model with a
JSON-schema ``response_format`` (the way MedGemma chooses tools). It prints how many it
got right and how long it took; it checks the LLM layer end to end on real models, not
the agent. Run it with::

    python -m agent.llm.tool_choice_bench [--models qwen2.5-1.5b smollm2-135m] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.errors import LLMOutputError
from agent.llm.local_models import LOCAL_MODELS
from agent.llm.local_server import LocalModelServer
from agent.llm.structured import call_structured

__all__ = ["QUESTIONS", "ToolPick", "main", "run"]

SYSTEM = (
    "You choose which tool retrieves the evidence needed to answer a question about one "
    "patient's health record. Tools: labs (laboratory results such as HbA1c or "
    "cholesterol), medications (prescriptions and drugs taken), vitals (blood pressure, "
    "heart rate, weight, temperature), conditions (diagnoses and problems), immunizations "
    "(vaccines given)."
)

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What was her most recent HbA1c?", "labs"),
    ("Is he currently taking metformin?", "medications"),
    ("What was his blood pressure at the last visit?", "vitals"),
    ("Has she ever been diagnosed with asthma?", "conditions"),
    ("Did she get a flu vaccine this year?", "immunizations"),
)


class ToolPick(BaseModel):
    """The tool to call."""

    tool: Literal["labs", "medications", "vitals", "conditions", "immunizations"] = Field(
        description="the one tool whose evidence answers the question"
    )


async def run(model: str, *, threads: int, data_dir: Path) -> tuple[int, float]:
    """Ask ``model`` every question; return (correct answers, seconds spent asking)."""
    with LocalModelServer(model=model, threads=threads, ctx=2048, data_dir=data_dir) as server:
        chat = OpenAICompatibleChat(base_url=server.base_url, model=model, max_tokens=64)
        correct = 0
        started = time.perf_counter()
        for question, expected in QUESTIONS:
            messages = [SystemMessage(SYSTEM), HumanMessage(question)]
            try:
                pick = await call_structured(chat, messages, ToolPick, name="tool_pick")
            except LLMOutputError:
                continue
            correct += pick.value.tool == expected
        return correct, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Print, per model, how many tools it picked right."""
    parser = argparse.ArgumentParser(prog="python -m agent.llm.tool_choice_bench")
    parser.add_argument("--models", nargs="+", default=["qwen2.5-1.5b", "smollm2-135m"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, help="where to assemble split models")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in LOCAL_MODELS]
    if unknown:
        parser.error(f"unknown models: {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        for model in args.models:
            correct, seconds = asyncio.run(run(model, threads=args.threads, data_dir=data_dir))
            print(
                f"{model}: {correct}/{len(QUESTIONS)} right tool picks, "
                f"{seconds:.1f} s for {len(QUESTIONS)} questions ({args.threads} thread(s))"
            )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

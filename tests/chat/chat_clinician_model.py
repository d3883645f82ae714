"""A scripted model for the chat tests, served through the real OpenAI-compatible API.

It is one step of a :class:`~agent.llm.scripted_server.ScriptedOpenAIServer` (a callable
of the request body, reused for every request). Like a model, it reads its prompt: it
plans by the topic of the current question, and cites the handle that the evidence in
the prompt gives the line it relies on, so the citations the chat shows come from what
the tools really returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

QUESTION = re.compile(r"^Question: (.+)$", re.MULTILINE)

CHOLESTEROL_Q = "Does she have a cholesterol problem?"
FOLLOW_UP_Q = "When was it first recorded?"
SLOW_Q = "Explain that slowly, please."
MEDICATION_Q = "Which medications was she prescribed?"

CHOLESTEROL_ANSWER = "Yes: hyperlipidemia is on her problem list, active since 2009-02-06"
FOLLOW_UP_ANSWER = "Hyperlipidemia was first recorded on 2009-02-06"
SLOW_ANSWER = "This answer is written very slowly so that it can be stopped long before it ends"
MEDICATION_ANSWER = "She was prescribed simvastatin"


def prompt_text(body: dict[str, Any]) -> str:
    """All message text of a request."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def current_question(body: dict[str, Any]) -> str:
    """The question this request is about (earlier ones appear as "Earlier question")."""
    found = QUESTION.findall(prompt_text(body))
    return found[-1].strip() if found else ""


def _handle(prompt: str, label: str) -> str:
    match = re.search(rf"{label}[^\[\n]*\[([A-Z]+\d+)\]", prompt)
    if match is None:
        raise AssertionError(f"the prompt shows no evidence line for {label!r}")
    return match.group(1)


def _reply(answer: str, handle: str, *, chunk_delay: float = 0.0) -> dict[str, Any]:
    content = json.dumps({"answer": f"{answer} [{handle}].", "citations": [handle]})
    return {"content": content, "chunk_delay": chunk_delay}


def _plan(*calls: dict[str, str]) -> dict[str, Any]:
    return {"content": json.dumps({"enough": not calls, "calls": list(calls)})}


class ScriptedClinician:
    """Replies to plan and answer requests by the current question's topic."""

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        prompt = prompt_text(body)
        question = current_question(body)
        if schema == "plan":
            return self._plan(question, prompt)
        if schema == "answer":
            return self._answer(question, prompt)
        raise AssertionError(f"unexpected request (schema {schema!r})")

    def _plan(self, question: str, prompt: str) -> dict[str, Any]:
        if question == CHOLESTEROL_Q and "Result of search type=Condition" not in prompt:
            return _plan({"tool": "search", "type": "Condition"})
        if question == MEDICATION_Q and "Result of search type=MedicationRequest" not in prompt:
            return _plan({"tool": "search", "type": "MedicationRequest"})
        return _plan()

    def _answer(self, question: str, prompt: str) -> dict[str, Any]:
        if question == CHOLESTEROL_Q:
            return _reply(CHOLESTEROL_ANSWER, _handle(prompt, "Hyperlipidemia"))
        if question == FOLLOW_UP_Q:
            if f"Earlier question: {CHOLESTEROL_Q}" not in prompt:
                return {"content": json.dumps({"answer": "Which problem?", "citations": []})}
            return _reply(FOLLOW_UP_ANSWER, _handle(prompt, "Hyperlipidemia"))
        if question == SLOW_Q:
            # The first words at once, then one word a second: time to press Ctrl-C.
            reply = _reply(SLOW_ANSWER, _handle(prompt, "Hyperlipidemia"), chunk_delay=1.0)
            head, tail = reply["content"].split(" very ", 1)
            reply["chunks"] = [f"{head} ", *(f"{w} " for w in f"very {tail}".split(" "))]
            return reply
        if question == MEDICATION_Q:
            block = prompt.split("Result of search type=MedicationRequest", 1)[1]
            return _reply(MEDICATION_ANSWER, _handle(block, "Simvistatin"))
        raise AssertionError(f"no scripted answer for {question!r}")

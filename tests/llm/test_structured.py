from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from pydantic import BaseModel

from agent.llm.errors import LLMUnavailable
from agent.llm.scripted import ScriptedChatModel
from agent.llm.structured import (
    JSON_REPAIR_PROMPT,
    CallUsage,
    call_structured,
    parse_structured,
)


class Answer(BaseModel):
    value: float
    unit: str


@pytest.mark.parametrize(
    "text",
    [
        '{"value": 6.9, "unit": "%"}',
        '```json\n{"value": 6.9, "unit": "%"}\n```',
        '```\n{"value": 6.9, "unit": "%"}\n```',
        '<unused94>thought\nlast one is 6.9<unused95>\n{"value": 6.9, "unit": "%"}',
        '<think>x</think>  {"value": 6.9, "unit": "%"}  ',
    ],
)
def test_parse_structured_accepts_json_fences_and_thinking(text: str) -> None:
    assert parse_structured(text, Answer) == Answer(value=6.9, unit="%")


def test_parse_structured_errors_name_fields_but_never_echo_values() -> None:
    with pytest.raises(ValueError, match="not valid JSON") as not_json:
        parse_structured("Patient John Doe: 6.9", Answer)
    assert "John" not in str(not_json.value)
    with pytest.raises(ValueError, match="value: Input should be a valid number") as invalid:
        parse_structured('{"value": "Jane Roe", "unit": "%"}', Answer)
    assert "Jane" not in str(invalid.value)


@pytest.mark.asyncio
async def test_call_structured_with_the_scripted_model_binds_the_response_format() -> None:
    model = ScriptedChatModel.from_steps('{"value": 7.2, "unit": "%"}')
    result = await call_structured(model, [HumanMessage("q")], Answer, name="answer")
    assert result.value == Answer(value=7.2, unit="%")
    fmt = model.call_kwargs[0]["response_format"]
    assert fmt["json_schema"]["name"] == "answer"
    assert fmt["json_schema"]["schema"]["required"] == ["value", "unit"]
    hint = model.received[0][-1].text
    assert hint.startswith("Reply with one JSON object")
    assert '"required":["value","unit"]' in hint
    assert result.usage.llm_calls == 1
    assert result.usage.prompt_tokens > 0


@pytest.mark.asyncio
async def test_usage_of_a_repaired_call_adds_both_calls() -> None:
    model = ScriptedChatModel.from_steps(
        AIMessage("nope", usage_metadata=_usage(100, 3)),
        AIMessage('{"value": 1, "unit": "mg"}', usage_metadata=_usage(140, 12)),
        latency_s=0.25,
    )
    result = await call_structured(
        model, [HumanMessage("q")], Answer, name="answer", schema_hint=False
    )
    assert result.repaired
    assert result.usage == CallUsage(
        llm_calls=2, prompt_tokens=240, completion_tokens=15, seconds=0.5
    )
    assert [m.text for m in model.received[1]] == [
        "q",
        "nope",
        JSON_REPAIR_PROMPT.format(
            error="the reply is not valid JSON (Expecting value at position 0)"
        ),
    ]


@pytest.mark.asyncio
async def test_an_outage_is_never_repaired_or_answered() -> None:
    model = ScriptedChatModel.from_steps(
        LLMUnavailable("the model endpoint at http://gpu:8000/v1 is unreachable"), "unused"
    )
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await call_structured(model, [HumanMessage("q")], Answer, name="answer")
    assert model.calls == 1
    assert model.remaining == 1


def _usage(prompt: int, completion: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
    )

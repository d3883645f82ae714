from __future__ import annotations

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agent.llm.errors import LLMRequestError
from agent.llm.scripted import ScriptedChatModel, ScriptExhausted


def test_it_is_a_real_langchain_chat_model() -> None:
    assert isinstance(ScriptedChatModel(), BaseChatModel)


@pytest.mark.asyncio
async def test_replies_in_order_and_records_what_it_was_asked() -> None:
    def echo_count(messages: list[BaseMessage]) -> str:
        return f"you sent {len(messages)} messages"

    model = ScriptedChatModel.from_steps("first", echo_count, model_name="fake-medgemma")
    one = await model.ainvoke([SystemMessage("s"), HumanMessage("q1")])
    two = model.invoke([HumanMessage("q2")])
    assert (one.text, two.text) == ("first", "you sent 1 messages")
    assert [[m.text for m in call] for call in model.received] == [["s", "q1"], ["q2"]]
    assert one.response_metadata["model_name"] == "fake-medgemma"
    assert one.usage_metadata == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert model.remaining == 0


@pytest.mark.asyncio
async def test_raises_the_scripted_exception_to_simulate_failures() -> None:
    refused = LLMRequestError("context length exceeded", status=400, server_message="too long")
    model = ScriptedChatModel.from_steps(refused)
    with pytest.raises(LLMRequestError, match="context length"):
        await model.ainvoke("q")


def test_an_exhausted_script_fails_the_test_loudly() -> None:
    model = ScriptedChatModel.from_steps("only one")
    model.invoke("a")
    with pytest.raises(ScriptExhausted, match="called 2 times but its script has 1 steps"):
        model.invoke("b")


@pytest.mark.asyncio
async def test_streams_words_and_tool_calls_and_records_bound_tools() -> None:
    def labs(code: str) -> str:
        """Lab results."""
        return code

    reply = AIMessage(
        "Checking labs now", tool_calls=[{"name": "labs", "args": {"code": "x"}, "id": "1"}]
    )
    model = ScriptedChatModel.from_steps(reply)
    total = None
    async for chunk in model.bind_tools([labs]).astream("q"):
        total = chunk if total is None else total + chunk
    assert total is not None
    assert total.text == "Checking labs now"
    assert total.tool_calls[0]["name"] == "labs"
    assert total.tool_calls[0]["args"] == {"code": "x"}
    assert model.call_kwargs[0]["tools"][0]["function"]["name"] == "labs"

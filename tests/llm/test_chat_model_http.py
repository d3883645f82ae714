"""The OpenAI-compatible client against a real HTTP server on loopback."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.errors import LLMOutputError, LLMRequestError, LLMUnavailable
from agent.llm.openai_messages import image_part
from agent.llm.scripted_server import ScriptedOpenAIServer
from agent.llm.structured import call_structured


class Plan(BaseModel):
    tool: Literal["labs", "medications", "vitals"] = Field(description="evidence tool to call")
    reason: str = Field(description="why, in one sentence")


QUESTION = [SystemMessage("You plan FHIR queries."), HumanMessage("Has her HbA1c improved?")]


def _last_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


# ----- structured output ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_structured_output_is_parsed_and_the_schema_is_requested(make_chat) -> None:
    reply = '{"tool": "labs", "reason": "HbA1c is a lab value"}'
    with ScriptedOpenAIServer([reply], model="qwen2.5-1.5b") as server:
        result = await call_structured(make_chat(server), QUESTION, Plan, name="plan")
    assert result.value == Plan(tool="labs", reason="HbA1c is a lab value")
    assert not result.repaired
    assert result.usage.llm_calls == 1
    body = server.requests[0]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "plan"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["tool"]["enum"] == [
        "labs",
        "medications",
        "vitals",
    ]
    assert body["model"] == "qwen2.5-1.5b"


@pytest.mark.asyncio
async def test_thinking_blocks_and_code_fences_are_removed_before_parsing(make_chat) -> None:
    reply = (
        "<unused94>thought\nThe question is about a lab trend, so labs.<unused95>"
        '```json\n{"tool": "labs", "reason": "trend of a lab"}\n```'
    )
    with ScriptedOpenAIServer([reply, reply], model="google/medgemma-27b-text-it") as server:
        chat = make_chat(server)
        result = await call_structured(chat, QUESTION, Plan, name="plan")
        plain = await chat.ainvoke(QUESTION)
    assert result.value.tool == "labs"
    assert "unused94" not in plain.text
    assert "lab trend" not in plain.text
    assert plain.text.startswith("```json")


@pytest.mark.asyncio
async def test_invalid_json_gets_one_repair_attempt_with_the_error(make_chat) -> None:
    invalid = '{"tool": "radiology", "reason": "x"}'
    fixed = '{"tool": "vitals", "reason": "blood pressure"}'
    with ScriptedOpenAIServer([invalid, fixed]) as server:
        result = await call_structured(make_chat(server), QUESTION, Plan, name="plan")
    assert result.value.tool == "vitals"
    assert result.repaired
    assert result.usage.llm_calls == 2
    repair = server.requests[1]["messages"]
    assert {"role": "assistant", "content": invalid} in repair
    assert "tool: Input should be 'labs', 'medications' or 'vitals'" in _last_user_text(
        server.requests[1]
    )
    # The model's bad value is not echoed into the error text (it may be patient data).
    assert "radiology" not in _last_user_text(server.requests[1])


@pytest.mark.asyncio
async def test_invalid_twice_raises_llm_output_error_and_never_makes_up_an_answer(
    make_chat,
) -> None:
    server = ScriptedOpenAIServer(["not json at all", '{"tool": "labs"}'])
    with server, pytest.raises(LLMOutputError) as caught:
        await call_structured(make_chat(server), QUESTION, Plan, name="plan")
    assert caught.value.schema_name == "plan"
    assert caught.value.raw_text == '{"tool": "labs"}'
    assert "reason: Field required" in str(caught.value)
    assert len(server.requests) == 2
    assert "not valid JSON" in _last_user_text(server.requests[1])


# ----- failures ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_503_is_retried_then_the_answer_is_returned(make_chat) -> None:
    steps = [{"status": 503, "error": "loading model"}, "ready now"]
    with ScriptedOpenAIServer(steps) as server:
        reply = await make_chat(server).ainvoke("hello")
    assert reply.text == "ready now"
    assert len(server.requests) == 2


def test_429_retry_after_is_honoured_in_sync_calls(make_chat) -> None:
    steps = [{"status": 429, "error": "slow down", "headers": {"Retry-After": "0"}}, "done"]
    with ScriptedOpenAIServer(steps) as server:
        started = time.perf_counter()
        reply = make_chat(server, retry_backoff=30.0).invoke("hello")
        elapsed = time.perf_counter() - started
    assert elapsed < 10  # the 30 s backoff was replaced by Retry-After: 0
    assert reply.text == "done"
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_retries_are_bounded_then_the_outage_is_reported(make_chat) -> None:
    steps = [{"status": 503, "error": "overloaded"}] * 3 + ["too late"]
    with ScriptedOpenAIServer(steps) as server, pytest.raises(LLMUnavailable) as caught:
        await make_chat(server, max_retries=2).ainvoke("hello")
    assert len(server.requests) == 3
    message = str(caught.value)
    assert server.base_url in message
    assert "HTTP 503: overloaded" in message
    assert "after 3 attempts" in message


@pytest.mark.asyncio
async def test_connection_refused_is_llm_unavailable_naming_the_url(closed_url) -> None:
    chat = OpenAICompatibleChat(base_url=closed_url, model="m", max_retries=1, retry_backoff=0.01)
    with pytest.raises(LLMUnavailable) as caught:
        await chat.ainvoke("hello")
    assert str(caught.value).startswith(f"the model endpoint at {closed_url} is unreachable")
    assert "connection refused" in str(caught.value)
    assert caught.value.url == closed_url


def test_connection_refused_in_sync_calls_too(closed_url) -> None:
    chat = OpenAICompatibleChat(base_url=closed_url, model="m", max_retries=0)
    with pytest.raises(LLMUnavailable, match="is unreachable"):
        chat.invoke("hello")


@pytest.mark.asyncio
async def test_context_length_400_is_a_request_error_with_the_servers_message(make_chat) -> None:
    message = "request (9000 tokens) exceeds the available context size (8192 tokens)"
    server = ScriptedOpenAIServer([{"status": 400, "error": message}, "unused"])
    with server, pytest.raises(LLMRequestError) as caught:
        await make_chat(server).ainvoke("a very long prompt")
    assert caught.value.status == 400
    assert caught.value.server_message == message
    assert message in str(caught.value)
    assert len(server.requests) == 1  # a 4xx is never retried


@pytest.mark.asyncio
async def test_a_slow_server_times_out_once_without_retrying(make_chat) -> None:
    server = ScriptedOpenAIServer([{"delay": 1.0, "content": "late"}, "second"])
    with server, pytest.raises(LLMUnavailable, match=r"did not answer within 0\.2 s"):
        await make_chat(server, timeout=0.2, max_retries=2).ainvoke("hello")
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_an_outage_during_structured_output_propagates_without_a_repair(
    make_chat,
) -> None:
    server = ScriptedOpenAIServer([{"status": 500, "error": "CUDA error"}])
    with server, pytest.raises(LLMUnavailable):
        await call_structured(make_chat(server, max_retries=0), QUESTION, Plan, name="plan")
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_a_stream_broken_after_tokens_is_an_outage_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1

        def body():  # type: ignore[no-untyped-def]
            chunk = {"choices": [{"index": 0, "delta": {"content": "Her HbA1c "}}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            raise httpx.RemoteProtocolError("peer closed connection")

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    class _Async(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sync = handler(request)

            async def stream():  # type: ignore[no-untyped-def]
                for piece in sync.stream:  # type: ignore[union-attr]
                    yield piece

            return httpx.Response(200, headers=sync.headers, content=stream())

    chat = OpenAICompatibleChat(
        base_url="http://llm.invalid/v1", model="m", async_transport=_Async(), max_retries=3
    )
    seen: list[str] = []

    async def consume() -> None:
        async for chunk in chat.astream("q"):
            seen.append(chunk.text)

    with pytest.raises(LLMUnavailable, match="broke off the stream"):
        await consume()
    assert seen == ["Her HbA1c "]
    assert calls == 1


# ----- request shape ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_images_are_sent_only_when_the_backend_declares_vision(make_chat) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "Describe."}, image_part(b"PNGDATA")])
    with ScriptedOpenAIServer(["seen", "not seen"]) as server:
        with_vision = await make_chat(server, vision=True).ainvoke([message])
        without = await make_chat(server, vision=False).ainvoke([message])
    sent = server.requests[0]["messages"][0]["content"]
    assert [part["type"] for part in sent] == ["text", "image_url"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    dropped = server.requests[1]["messages"][0]["content"]
    assert isinstance(dropped, str)
    assert "image_url" not in json.dumps(server.requests[1])
    assert "1 image(s) omitted" in dropped
    assert with_vision.response_metadata["images_sent"] == 1
    assert without.response_metadata["images_dropped"] == 1


@pytest.mark.asyncio
async def test_gemma_models_get_the_system_prompt_folded_into_the_first_user_turn(
    make_chat,
) -> None:
    with ScriptedOpenAIServer(["a", "b"], model="google/medgemma-27b-it") as server:
        await make_chat(server).ainvoke(QUESTION)
        await make_chat(server, model="qwen2.5-1.5b").ainvoke(QUESTION)
    gemma, qwen = (request["messages"] for request in server.requests)
    assert gemma == [
        {"role": "user", "content": "You plan FHIR queries.\n\nHas her HbA1c improved?"}
    ]
    assert [m["role"] for m in qwen] == ["system", "user"]


@pytest.mark.asyncio
async def test_usage_and_latency_are_reported_per_call(make_chat) -> None:
    step = {"content": "ok", "usage": {"prompt_tokens": 321, "completion_tokens": 7}}
    with ScriptedOpenAIServer([step], model="served-name") as server:
        reply = await make_chat(server, model="served-name").ainvoke("q")
    assert reply.usage_metadata == {"input_tokens": 321, "output_tokens": 7, "total_tokens": 328}
    meta = reply.response_metadata
    assert meta["model"] == "served-name"
    assert meta["model_name"] == "served-name"
    assert 0 < meta["latency_s"] < 5
    assert meta["finish_reason"] == "stop"


@pytest.mark.asyncio
async def test_bound_request_options_and_extra_body_reach_the_server(make_chat) -> None:
    with ScriptedOpenAIServer(["ok"]) as server:
        chat = make_chat(server, extra_body={"top_k": 1}, max_tokens=64, api_key="sekret")
        await chat.bind(seed=7, extra_body={"repetition_penalty": 1.1}).ainvoke("q", stop=["\n\n"])
    body = server.requests[0]
    assert body["seed"] == 7
    assert body["top_k"] == 1
    assert body["repetition_penalty"] == 1.1
    assert body["max_tokens"] == 64
    assert body["stop"] == ["\n\n"]
    assert body["temperature"] == 0.0


# ----- streaming and tools ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_streaming_yields_tokens_in_order_with_usage_at_the_end(make_chat) -> None:
    step = {
        "chunks": ["<unused94>thought\nlook at ", "labs<unused95>", "Her HbA1c ", "fell."],
        "content": "ignored when chunks are given",
        "usage": {"prompt_tokens": 50, "completion_tokens": 12},
    }
    with ScriptedOpenAIServer([step], model="google/medgemma-27b-text-it") as server:
        chunks = [chunk async for chunk in make_chat(server).astream(QUESTION)]
    texts = [c.text for c in chunks if c.text]
    assert texts == ["Her HbA1c ", "fell."]
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["stream_options"] == {"include_usage": True}
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.text == "Her HbA1c fell."
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == 50
    assert total.usage_metadata["output_tokens"] == 12
    assert total.response_metadata["finish_reason"] == "stop"


def test_sync_streaming_works_too(make_chat) -> None:
    with ScriptedOpenAIServer(["one two three"]) as server:
        texts = [chunk.text for chunk in make_chat(server).stream("q") if chunk.text]
    assert texts == ["one ", "two ", "three"]


@pytest.mark.asyncio
async def test_langgraph_messages_stream_mode_receives_tokens(make_chat) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    with ScriptedOpenAIServer(["Her HbA1c fell to 6.9 %."]) as server:
        chat = make_chat(server)

        async def answer(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await chat.ainvoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("answer", answer)
        graph.add_edge(START, "answer")
        graph.add_edge("answer", END)
        compiled = graph.compile()
        tokens = [
            message.text
            async for message, _meta in compiled.astream(
                {"messages": [HumanMessage("q")]}, stream_mode="messages"
            )
            if message.text
        ]
    assert len(tokens) > 1
    assert "".join(tokens) == "Her HbA1c fell to 6.9 %."


@pytest.mark.asyncio
async def test_native_tool_calls_are_sent_and_parsed(make_chat) -> None:
    def get_labs(code: str) -> str:
        """Lab results for a LOINC code."""
        return code

    step = {
        "content": "",
        "tool_calls": [{"id": "c7", "name": "get_labs", "arguments": {"code": "4548-4"}}],
    }
    with ScriptedOpenAIServer([step, step]) as server:
        bound = make_chat(server).bind_tools([get_labs], tool_choice="any")
        reply = await bound.ainvoke("latest HbA1c?")
        streamed = None
        async for chunk in bound.astream("latest HbA1c?"):
            streamed = chunk if streamed is None else streamed + chunk
    body = server.requests[0]
    assert body["tools"][0]["function"]["name"] == "get_labs"
    assert body["tool_choice"] == "required"
    assert reply.tool_calls == [
        {"name": "get_labs", "args": {"code": "4548-4"}, "id": "c7", "type": "tool_call"}
    ]
    assert streamed is not None
    assert streamed.tool_calls[0]["args"] == {"code": "4548-4"}

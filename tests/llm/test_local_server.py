"""The real embedded llama.cpp server with SmolLM2 over loopback HTTP (machinery, not quality)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import httpx
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.config import Settings
from agent.llm.backend import open_llm_backend
from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.errors import LLMUnavailable, LocalModelError
from agent.llm.local_server import LocalModelServer
from agent.llm.structured import call_structured

pytestmark = pytest.mark.model


class ToolChoice(BaseModel):
    tool: Literal["labs", "medications", "vitals", "conditions"] = Field(
        description="the evidence tool that answers the question"
    )
    reason: str = Field(description="one short sentence")


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings(
        local_model="smollm2-135m",
        local_ctx=2048,
        local_parallel=2,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    with LocalModelServer(settings) as server:
        yield server


def test_serves_the_openai_api_on_loopback(smollm2: LocalModelServer) -> None:
    assert smollm2.base_url.startswith("http://127.0.0.1:")
    assert smollm2.base_url.endswith("/v1")
    listing = httpx.get(f"{smollm2.base_url}/models", timeout=10).json()
    assert [m["id"] for m in listing["data"]] == ["smollm2-135m"]
    assert smollm2.load_seconds is not None


@pytest.mark.asyncio
async def test_structured_output_with_a_json_schema_parses(smollm2: LocalModelServer) -> None:
    chat = OpenAICompatibleChat(base_url=smollm2.base_url, model=smollm2.model_name, max_tokens=96)
    result = await call_structured(
        chat,
        [SystemMessage("Pick the evidence tool."), HumanMessage("What was her last HbA1c?")],
        ToolChoice,
        name="tool_choice",
    )
    assert isinstance(result.value, ToolChoice)
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0


@pytest.mark.asyncio
async def test_streams_tokens_with_usage(smollm2: LocalModelServer) -> None:
    chat = OpenAICompatibleChat(base_url=smollm2.base_url, model=smollm2.model_name, max_tokens=8)
    chunks = [chunk async for chunk in chat.astream("Say hello.")]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert sum(1 for c in chunks if c.text) >= 2
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] >= 2


def test_close_stops_listening(tmp_path: Path) -> None:
    server = LocalModelServer(model="smollm2-135m", ctx=512, data_dir=tmp_path)
    with server:
        url = server.base_url
        assert httpx.get(f"{url}/models", timeout=10).status_code == 200
    assert not server.running
    chat = OpenAICompatibleChat(base_url=url, model="smollm2-135m", max_retries=0)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        chat.invoke("hello")


def test_open_llm_backend_starts_the_embedded_model_when_no_url_is_set(tmp_path: Path) -> None:
    settings = Settings(local_model="smollm2-135m", local_ctx=512, data_dir=tmp_path)
    with open_llm_backend(settings) as backend:
        assert backend.embedded
        assert backend.model_name == "smollm2-135m"
        assert backend.vision is False
        reply = backend.model.bind(max_tokens=4).invoke("Hi")
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] >= 1


def test_unknown_model_and_bad_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="unknown local model"):
        LocalModelServer(model="gpt-5", data_dir=tmp_path)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    with pytest.raises(LocalModelError, match="could not load"):
        LocalModelServer(model_path=bogus).start()

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.scripted_server import ScriptedOpenAIServer

MakeChat = Callable[..., OpenAICompatibleChat]


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens (the port was just released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def make_chat() -> MakeChat:
    """Build a client of a scripted server, with fast retries."""

    def build(server: ScriptedOpenAIServer, **fields: Any) -> OpenAICompatibleChat:
        values: dict[str, Any] = {
            "base_url": server.base_url,
            "model": server.model,
            "retry_backoff": 0.01,
        }
        values.update(fields)
        return OpenAICompatibleChat(**values)

    return build

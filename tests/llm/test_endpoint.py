from __future__ import annotations

import pytest

from agent.config import Settings
from agent.llm.backend import open_llm_backend
from agent.llm.endpoint import model_takes_images, probe_endpoint
from agent.llm.errors import LLMRequestError, LLMUnavailable
from agent.llm.scripted_server import ScriptedOpenAIServer


@pytest.mark.parametrize(
    ("name", "vision"),
    [
        ("google/medgemma-27b-it", True),
        ("google/medgemma-4b-it", True),
        ("google/medgemma-1.5-4b-it", True),
        ("google/medgemma-27b-text-it", False),
        ("google/gemma-3-27b-it", True),
        ("google/gemma-3-1b-it", False),
        ("Qwen/Qwen2.5-7B-Instruct", None),
    ],
)
def test_known_model_families(name: str, vision: bool | None) -> None:
    assert model_takes_images(name) is vision


def test_llamacpp_model_listing_decides_vision() -> None:
    with ScriptedOpenAIServer([], model="local-gguf", vision=False) as server:
        info = probe_endpoint(server.base_url)
    assert info.models == ["local-gguf"]
    assert info.server == "llama.cpp"
    assert (info.vision, info.vision_source) == (False, "/v1/models input_modalities")


def test_for_vllm_the_served_model_family_decides_vision() -> None:
    with ScriptedOpenAIServer([], model="google/medgemma-27b-it") as server:
        info = probe_endpoint(server.base_url)
    assert info.server == "vllm"
    assert info.roots == {"google/medgemma-27b-it": "google/medgemma-27b-it"}
    assert (info.vision, info.vision_source) == (True, "known model google/medgemma-27b-it")


def test_an_unknown_vllm_model_has_unknown_vision() -> None:
    with ScriptedOpenAIServer([], model="my-finetune") as server:
        info = probe_endpoint(server.base_url)
    assert (info.vision, info.vision_source) == (None, "unknown")


def test_probe_of_a_closed_port_is_an_outage(closed_url: str) -> None:
    with pytest.raises(LLMUnavailable, match="unreachable"):
        probe_endpoint(closed_url)


def test_backend_asks_the_endpoint_for_the_model_name_when_unset() -> None:
    with ScriptedOpenAIServer(["hello"], model="medgemma-27b", vision=True) as server:
        settings = Settings(llm_url=server.base_url)
        with open_llm_backend(settings) as backend:
            reply = backend.model.invoke("hi")
    assert not backend.embedded
    assert backend.model_name == "medgemma-27b"
    assert backend.vision is True
    assert reply.text == "hello"
    assert server.requests[0]["model"] == "medgemma-27b"


def test_backend_settings_win_over_probing_and_a_wrong_model_is_refused_by_the_server() -> None:
    with ScriptedOpenAIServer([{"status": 404, "error": "model 'x' not found"}]) as server:
        settings = Settings(llm_url=server.base_url, llm_model="x", llm_vision=True)
        with open_llm_backend(settings) as backend:
            assert (backend.vision, backend.vision_source) == (True, "EHR_AGENT_LLM_VISION")
            with pytest.raises(LLMRequestError, match="not found"):
                backend.model.invoke("hi")


def test_backend_fails_fast_when_the_endpoint_is_down(closed_url: str) -> None:
    with (
        pytest.raises(LLMUnavailable, match=closed_url),
        open_llm_backend(Settings(llm_url=closed_url)),
    ):
        pass

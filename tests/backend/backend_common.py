"""Fixtures of the HTTP backend tests: a scripted model, backends on loopback, a SMART EHR.

Every server here is real and spoken to over HTTP on 127.0.0.1: the embedded FHIR server
(``loaded_fhir_server``, or one with a bearer token for SMART), the backend (uvicorn in a
thread) and a small SMART authorization server implementing RFC 7662 introspection.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from live_server import LiveServer

from agent.backend import BackendConfig, create_app
from agent.config import Settings
from agent.llm import ScriptedChatModel
from agent.llm.scripted_server import ScriptedOpenAIServer
from fhir_fixtures.server import BackgroundServer

SERVICE_KEY = "service-key-0123456789abcdef"
OTHER_KEY = "other-service-key-0123456789"
QUESTION = "Which conditions are on record?"

_CONDITION_HANDLE = re.compile(r"\[(C\d+)\]")


@pytest.fixture(autouse=True)
def _no_ehr_agent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the tests, never from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("EHR_AGENT_"):
            monkeypatch.delenv(name)


def agent_reply(messages: list[BaseMessage]) -> str:
    """A valid agent script as one function: search Conditions, then cite the first found.

    Plan calls search once and then say they have enough; the answer cites the first
    Condition handle of the search result (the patient, PT1, when there is none).
    """
    text = messages[-1].text
    if "Decide what to look up next" in text:
        if "Result of search" in text:
            return json.dumps({"enough": True, "calls": []})
        return json.dumps({"enough": False, "calls": [{"tool": "search", "type": "Condition"}]})
    found = _CONDITION_HANDLE.search(text.split("Result of search", 1)[-1])
    handle = found.group(1) if found else "PT1"
    return json.dumps(
        {"answer": f"The record lists this condition [{handle}].", "citations": [handle]}
    )


def openai_agent_reply(body: dict[str, Any]) -> dict[str, Any]:
    """:func:`agent_reply` for the scripted OpenAI server; questions saying SLOW take 0.4 s."""
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last)
    reply = agent_reply([HumanMessage(text)])
    return {"content": reply, "delay": 0.4 if "SLOW" in text else 0}


@contextmanager
def openai_model_server() -> Iterator[ScriptedOpenAIServer]:
    """A real OpenAI-compatible model server on loopback that plays :func:`agent_reply`."""
    with ScriptedOpenAIServer([openai_agent_reply], model="scripted", repeat_last=True) as server:
        yield server


def scripted_model(questions: int = 200) -> ScriptedChatModel:
    """A scripted model able to answer ``questions`` questions (three calls each)."""
    return ScriptedChatModel.from_steps(*([agent_reply] * (3 * questions)))


@pytest.fixture
def make_backend(
    tmp_path: Path, loaded_fhir_server: BackgroundServer
) -> Iterator[Callable[..., Any]]:
    """``with make_backend(**config) as url:`` a backend over the 41 shared patients.

    Keyword arguments are :class:`BackendConfig` fields (``api_keys`` defaults to the two
    test keys); ``model`` an in-process chat model (default: a scripted one);
    ``settings`` extra :class:`Settings` values (e.g. ``llm_url`` with ``model=None``).
    """

    @contextmanager
    def factory(
        *,
        model: Any = "scripted",
        settings: dict[str, Any] | None = None,
        **config: Any,
    ) -> Iterator[str]:
        values = {
            "fhir_url": loaded_fhir_server.base_url,
            "data_dir": str(tmp_path),
            "checkpointer": str(tmp_path / "checkpoints.sqlite"),
            **(settings or {}),
        }
        built = Settings.load(values, environ={})
        config.setdefault("api_keys", (SERVICE_KEY, OTHER_KEY))
        backend_config = BackendConfig.from_settings(built, **config)
        # model=None: the app opens the configured endpoint (settings["llm_url"]) itself.
        chosen = scripted_model() if model == "scripted" else model
        with LiveServer(create_app(built, backend_config, model=chosen)) as live:
            yield live.url

    return factory


@pytest.fixture(scope="module")
def service_backend(
    tmp_path_factory: pytest.TempPathFactory, loaded_fhir_server: BackgroundServer
) -> Iterator[tuple[str, ScriptedChatModel]]:
    """One backend (API keys, default limits) shared by a module's read-mostly tests."""
    tmp = tmp_path_factory.mktemp("backend")
    settings = Settings.load(
        {
            "fhir_url": loaded_fhir_server.base_url,
            "data_dir": str(tmp),
            "checkpointer": str(tmp / "checkpoints.sqlite"),
        },
        environ={},
    )
    config = BackendConfig.from_settings(settings, api_keys=(SERVICE_KEY, OTHER_KEY))
    model = scripted_model(500)
    with LiveServer(create_app(settings, config, model=model)) as live:
        yield live.url, model


def headers(key: str = SERVICE_KEY) -> dict[str, str]:
    """Service-caller headers."""
    return {"X-API-Key": key}

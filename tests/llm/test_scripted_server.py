from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.errors import LLMRequestError
from agent.llm.scripted_server import ScriptedOpenAIServer


def test_models_listing_and_llamacpp_style_props() -> None:
    with ScriptedOpenAIServer([], model="medgemma", vision=True) as server:
        models = httpx.get(f"{server.base_url}/models").json()
        props = httpx.get(server.base_url.removesuffix("/v1") + "/props").json()
    assert [m["id"] for m in models["data"]] == ["medgemma"]
    assert props["modalities"]["vision"] is True


def test_steps_with_match_answer_the_request_they_fit() -> None:
    steps = [
        {"content": "the answer", "match": {"contains": "Answer now"}},
        {"content": '{"tool": "labs"}', "match": {"schema": "plan"}},
    ]
    with ScriptedOpenAIServer(steps) as server:
        chat = OpenAICompatibleChat(base_url=server.base_url, model="m", max_retries=0)
        plan = chat.bind(
            response_format={"type": "json_schema", "json_schema": {"name": "plan", "schema": {}}}
        ).invoke("plan please")
        answer = chat.invoke("Answer now.")
        with pytest.raises(LLMRequestError, match="no scripted reply left") as caught:
            chat.invoke("one more")
    assert (plan.text, answer.text) == ('{"tool": "labs"}', "the answer")
    assert caught.value.status == 409


def test_runs_as_a_process_from_a_json_script_and_records_requests(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    record = tmp_path / "requests.jsonl"
    script.write_text(
        json.dumps({"model": "scripted-medgemma", "steps": ["Her HbA1c fell."]}), encoding="utf-8"
    )
    command = [sys.executable, "-m", "agent.llm.scripted_server", "--script", str(script)]
    command += ["--port", "0", "--record", str(record)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        assert ready.startswith("READY http://127.0.0.1:")
        base_url = ready.split(" ", 1)[1]
        chat = OpenAICompatibleChat(base_url=base_url, model="scripted-medgemma")
        reply = chat.invoke("Has her HbA1c improved?")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert reply.text == "Her HbA1c fell."
    recorded = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert len(recorded) == 1
    assert recorded[0]["model"] == "scripted-medgemma"
    assert recorded[0]["messages"] == [{"role": "user", "content": "Has her HbA1c improved?"}]

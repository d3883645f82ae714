"""Two backend replicas sharing a Postgres checkpointer, as agent/backend/README.md says.

A conversation started on one replica continues on the other (the follow-up's prompts
carry the first turn, read back from Postgres), either replica returns the whole
conversation, and the turns are in the Postgres database, not in either process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backend_common import OTHER_KEY, SERVICE_KEY, headers, scripted_model
from fhir_ground_truth import RawSynthea
from live_server import LiveServer
from postgres_server import postgres_server

from agent.backend import BackendConfig, create_app
from agent.config import Settings
from agent.llm import ScriptedChatModel
from fhir_fixtures.server import BackgroundServer


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _replica(
    tmp: Path, fhir: BackgroundServer, checkpointer: str, model: ScriptedChatModel
) -> LiveServer:
    settings = Settings.load(
        {"fhir_url": fhir.base_url, "data_dir": str(tmp), "checkpointer": checkpointer},
        environ={},
    )
    config = BackendConfig.from_settings(settings, api_keys=(SERVICE_KEY, OTHER_KEY))
    return LiveServer(create_app(settings, config, model=model))


def test_a_conversation_moves_between_replicas_through_postgres(
    tmp_path: Path,
    postgres_url: str,
    loaded_fhir_server: BackgroundServer,
    raw_synthea: RawSynthea,
) -> None:
    import psycopg

    pid = next(p for p in sorted(raw_synthea.patients) if raw_synthea.of(p, "Condition"))
    model_a, model_b = scripted_model(5), scripted_model(5)
    replica_a = _replica(tmp_path / "a", loaded_fhir_server, postgres_url, model_a)
    with replica_a as a:  # the first replica creates the tables; then the second starts
        replica_b = _replica(tmp_path / "b", loaded_fhir_server, postgres_url, model_b)
        with replica_b as b:
            first = httpx.post(
                f"{a.url}/v1/ask",
                json={"question": "Which conditions are on record?", "patient": pid},
                headers=headers(),
                timeout=60,
            )
            assert first.status_code == 200, first.text
            sid = first.json()["session_id"]
            second = httpx.post(
                f"{b.url}/v1/ask",
                json={"question": "And since when?", "patient": pid, "session_id": sid},
                headers=headers(),
                timeout=60,
            )
            assert second.status_code == 200, second.text
            assert second.json()["session_id"] == sid
            assert model_a.calls > 0
            assert model_b.calls > 0
            prompts = [m[-1].text for m in model_b.received]
            assert any("Earlier question: Which conditions are on record?" in p for p in prompts)

            views = [
                httpx.get(f"{url}/v1/sessions/{sid}", headers=headers(), timeout=10)
                for url in (a.url, b.url)
            ]
            for view in views:
                assert view.status_code == 200, view.text
                assert [t["question"] for t in view.json()["turns"]] == [
                    "Which conditions are on record?",
                    "And since when?",
                ]
            assert views[0].json() == views[1].json()
            # Another caller's key sees nothing, on either replica.
            other = httpx.get(f"{b.url}/v1/sessions/{sid}", headers=headers(OTHER_KEY), timeout=10)
            assert other.status_code == 404

    # Stored in Postgres: one conversation thread with checkpoints from both turns.
    with psycopg.connect(postgres_url) as conn:
        threads = conn.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()
        rows = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    assert len(threads) == 1
    assert rows is not None
    assert rows[0] >= 2
    # No SQLite conversation store was created by either replica.
    assert not list(tmp_path.rglob("checkpoints.sqlite*"))

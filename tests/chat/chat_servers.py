"""The chat tests' servers: FHIR and the scripted model, each stoppable and restartable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat_clinician_model import ScriptedClinician
from fhir_ground_truth import load_bundles_over_http

from agent.llm.scripted_server import ScriptedOpenAIServer
from fhir_fixtures.server import BackgroundServer


class RestartableFHIR:
    """The embedded FHIR server over one database, stoppable and restartable on its port."""

    def __init__(self, db: Path, bundles: list[Path]) -> None:
        self.db = db
        self.server = BackgroundServer(db, validate=False).start()
        self.base_url = self.server.base_url
        self.port = int(self.base_url.rsplit(":", 1)[1])
        load_bundles_over_http(self.base_url, bundles)

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.server = BackgroundServer(self.db, port=self.port, validate=False).start()
        assert self.server.base_url == self.base_url


class RestartableModel:
    """The scripted clinician model on loopback, stoppable and restartable on its port."""

    def __init__(self) -> None:
        self._servers: list[ScriptedOpenAIServer] = []
        self._start(0)
        self.base_url = self._servers[0].base_url
        self.port = int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request body received, across restarts."""
        return [body for server in self._servers for body in server.requests]

    def _start(self, port: int) -> None:
        server = ScriptedOpenAIServer([ScriptedClinician()], repeat_last=True, port=port)
        server.start()
        self._servers.append(server)

    def stop(self) -> None:
        self._servers[-1].stop()

    def restart(self) -> None:
        self._start(self.port)

"""Fixtures of the simulation tests: a clean environment and the AgentClinic cases."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from the test, never from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("EHR_AGENT_") and name != "EHR_AGENT_SHARED_DATA":
            monkeypatch.delenv(name)
    monkeypatch.setenv("EHR_AGENT_DATA_DIR", str(tmp_path / "data"))
    # Outages must surface at once, not after backoff.
    monkeypatch.setenv("EHR_AGENT_LLM_MAX_RETRIES", "0")


@pytest.fixture(scope="session")
def medqa_path(shared_data: Path) -> Path:
    """AgentClinic-MedQA, 107 OSCE cases (read in place)."""
    return shared_data / "agentclinic" / "agentclinic_medqa.jsonl"


@pytest.fixture(scope="session")
def medqa_raw(medqa_path: Path) -> list[dict[str, Any]]:
    """The MedQA cases read with plain json (ground truth)."""
    return [json.loads(line) for line in medqa_path.read_text(encoding="utf-8").splitlines()]

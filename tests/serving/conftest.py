from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_ehr_agent_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the flags under test, never from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("EHR_AGENT_"):
            monkeypatch.delenv(name)

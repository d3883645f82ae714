"""Fixtures for tests/agent.

They live in agent_common.py, which test modules import by that unique name (every test
folder has a conftest, so "from conftest import" is ambiguous).
"""

from agent_common import *  # noqa: F403

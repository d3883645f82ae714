"""Fixtures for tests/backend.

They live in backend_common.py, which test modules import by that unique name (every test
folder has a conftest, so "from conftest import" is ambiguous).
"""

from backend_common import *  # noqa: F403
from backend_common import _no_ehr_agent_environment  # noqa: F401

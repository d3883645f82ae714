"""Fixtures for tests/fhir_client.

They live in fhir_client_common.py, which test modules import by that unique name (every test
folder has a conftest, so "from conftest import" is ambiguous).
"""

from fhir_client_common import *  # noqa: F403

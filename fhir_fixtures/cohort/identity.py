"""Stable identifiers derived from the seed: resource UUIDs and DICOM UIDs.

Every id is a hash of the cohort seed and a name that says what it identifies, so the same seed
gives the same ids in any order of generation, and one patient's ids do not depend on the others.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["IdFactory", "dicom_uid"]


def _uuid4_from(text: str) -> uuid.UUID:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def dicom_uid(name_uuid: uuid.UUID) -> str:
    """The DICOM UID for a UUID in the ``2.25`` arc (ISO/IEC 9834-8): no registered root needed."""
    return f"2.25.{name_uuid.int}"


class IdFactory:
    """Hands out deterministic UUIDs under one namespace (the cohort seed plus a scope).

    Args:
        seed: the cohort seed.
        scope: what the ids belong to (a patient's index, "organizations", ...).
    """

    def __init__(self, seed: int, scope: str) -> None:
        self._prefix = f"ehr-agent-cohort/{seed}/{scope}"
        self._counter = 0

    def named(self, name: str) -> str:
        """The id for ``name`` in this scope (the same name always gives the same id)."""
        return str(_uuid4_from(f"{self._prefix}/{name}"))

    def next(self) -> str:
        """The next id in sequence (deterministic given the order of calls)."""
        self._counter += 1
        return self.named(f"#{self._counter}")

    def uid(self, name: str) -> str:
        """A DICOM UID for ``name`` in this scope."""
        return dicom_uid(_uuid4_from(f"{self._prefix}/dicom/{name}"))

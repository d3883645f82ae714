"""Exceptions of the dataset builder.

```
BuildError              anything that stops a build
 +-- BundleError        one input file is unreadable or not a usable FHIR Bundle (names it)
```
A ``BundleError`` costs only its own file: the build reports it and goes on with the others.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BuildError", "BundleError"]


class BuildError(Exception):
    """The build cannot go on (no inputs, nothing usable, unwritable output)."""


class BundleError(BuildError):
    """One input file is unreadable or is not a usable FHIR Bundle."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

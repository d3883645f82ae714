"""What can go wrong in a simulation run.

::

    SimulationError               any failure of the simulation layer
    ├── CaseFileError             the case file cannot be used; names the file and line(s)
    ├── CaseBuildError            EHR-grounded cases cannot be built from the given bundles
    ├── RunDirectoryError         the output folder holds a run this one cannot continue
    │                             (other models, another turn limit, changed cases)
    ├── RoleUnavailable           a role's endpoint is down (model outage, FHIR outage):
    │                             the whole run stops, finished cases are kept
    └── CaseFailed                one case could not be simulated (a refused request, a
                                  scripted error): it is not recorded, the run goes on,
                                  and a later run retries it

The judge being down is *not* an error: the deterministic verdict is used and both are
recorded. A doctor that cannot produce a valid action is a result (outcome
``invalid_output``), not an error. Messages never contain dialogue text.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CaseBuildError",
    "CaseFailed",
    "CaseFileError",
    "RoleUnavailable",
    "RunDirectoryError",
    "SimulationError",
]


class SimulationError(Exception):
    """Base class of every failure of the simulation layer."""


class CaseFileError(SimulationError):
    """A case file is missing, unreadable or has invalid lines.

    Attributes:
        path: The case file.
        problems: ``(line number, message)`` pairs, line numbers starting at 1
            (0 when the problem concerns the whole file).
    """

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        shown = [f"line {n}: {m}" if n else m for n, m in problems[:_SHOWN]]
        if len(problems) > _SHOWN:
            shown.append(f"... and {len(problems) - _SHOWN} more problem(s)")
        super().__init__(f"{path}: " + "; ".join(shown))


_SHOWN = 10


class CaseBuildError(SimulationError):
    """EHR-grounded cases cannot be built (unreadable bundle, nothing eligible)."""


class RunDirectoryError(SimulationError):
    """The output folder belongs to a run with other settings or other cases."""


class RoleUnavailable(SimulationError):
    """A part the simulation needs is down; the run stops.

    Attributes:
        role: ``doctor``, ``patient``, ``measurement``, ``ehr`` or ``fhir``.
        kind: The class name of the underlying failure (``LLMUnavailable``, ...).
    """

    def __init__(self, role: str, message: str, *, kind: str) -> None:
        super().__init__(f"the {role} endpoint failed: {message}")
        self.role = role
        self.kind = kind


class CaseFailed(SimulationError):
    """One case could not be simulated; it is left unrecorded so a later run retries it.

    Attributes:
        case_id: The case.
        role: The role whose call failed.
        kind: The class name of the underlying failure.
    """

    def __init__(self, case_id: str, role: str, message: str, *, kind: str) -> None:
        super().__init__(f"case {case_id}: the {role} call failed: {message}")
        self.case_id = case_id
        self.role = role
        self.kind = kind

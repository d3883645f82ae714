"""AgentClinic-style simulated doctor/patient runs, with our agent as the doctor.

Cases (:mod:`~evals.simulation.cases`) are AgentClinic OSCE lines, optionally linked to a
FHIR patient (:mod:`~evals.simulation.ehr_cases` builds those from raw bundles). Each case
is one consultation (:mod:`~evals.simulation.episode`): our doctor chooses actions as JSON
(:mod:`~evals.simulation.doctor`), the patient, measurement reader and moderator are
models on their own endpoints (:mod:`~evals.simulation.roles`,
:mod:`~evals.simulation.endpoints`), and query-EHR is answered by our agent
(:mod:`~evals.simulation.ehr`). Diagnoses are judged by the LLM moderator and by a
deterministic matcher (:mod:`~evals.simulation.matching`), both recorded. Runs are
resumable and concurrent (:mod:`~evals.simulation.runner`, :mod:`~evals.simulation.store`)
and summarised with Wilson intervals (:mod:`~evals.simulation.summary`).
"""

from evals.simulation.cases import EHRLink, SimulationCase, load_cases
from evals.simulation.doctor import DOCTOR_SCHEMA_NAME, DoctorAction, DoctorActionWithEHR
from evals.simulation.ehr import EHRConsultant, missing_patients
from evals.simulation.ehr_cases import CaseBuildReport, build_ehr_cases, write_case_file
from evals.simulation.endpoints import RoleModel, RoleModels, open_role_models
from evals.simulation.episode import EpisodeParts, run_episode
from evals.simulation.errors import (
    CaseBuildError,
    CaseFailed,
    CaseFileError,
    RoleUnavailable,
    RunDirectoryError,
    SimulationError,
)
from evals.simulation.matching import MatchVerdict, match_diagnosis
from evals.simulation.prompts import DEFAULT_SIMULATION_PROMPTS, SimulationPrompts
from evals.simulation.records import CaseResult, Turn
from evals.simulation.runner import RunReport, run_simulation
from evals.simulation.settings import SimulationSettings
from evals.simulation.store import RunStore
from evals.simulation.summary import cohen_kappa, summarize, wilson_interval

__all__ = [
    "DEFAULT_SIMULATION_PROMPTS",
    "DOCTOR_SCHEMA_NAME",
    "CaseBuildError",
    "CaseBuildReport",
    "CaseFailed",
    "CaseFileError",
    "CaseResult",
    "DoctorAction",
    "DoctorActionWithEHR",
    "EHRConsultant",
    "EHRLink",
    "EpisodeParts",
    "MatchVerdict",
    "RoleModel",
    "RoleModels",
    "RoleUnavailable",
    "RunDirectoryError",
    "RunReport",
    "RunStore",
    "SimulationCase",
    "SimulationError",
    "SimulationPrompts",
    "SimulationSettings",
    "Turn",
    "build_ehr_cases",
    "cohen_kappa",
    "load_cases",
    "match_diagnosis",
    "missing_patients",
    "open_role_models",
    "run_episode",
    "run_simulation",
    "summarize",
    "wilson_interval",
    "write_case_file",
]

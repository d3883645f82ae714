"""``ehr-agent simulate`` (AgentClinic-style runs) and ``ehr-agent simulate-cases``."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli_common import add_fhir_options, add_json_option, add_llm_options

__all__ = ["register"]

_ROLE_HELP = {
    "patient": "the patient agent",
    "measurement": "the measurement agent (test results)",
    "moderator": "the moderator (LLM judge of the diagnosis)",
}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``simulate`` and ``simulate-cases``."""
    parser = sub.add_parser(
        "simulate",
        help="run AgentClinic-style doctor/patient simulations",
        description=(
            "AgentClinic-style runs: our agent is the doctor (ask the patient, request tests, "
            "query the EHR, diagnose); a patient agent, a measurement agent and a moderator "
            "each use their own OpenAI-compatible endpoint. Transcripts are JSONL; the run "
            "is resumable."
        ),
        epilog=(
            "The doctor and the EHR agent use the main model settings (--llm-url, "
            "EHR_AGENT_LLM_URL...). Each simulated role takes --ROLE-url/--ROLE-model/"
            "--ROLE-api-key or EHR_AGENT_SIM_ROLE_URL/_MODEL/_API_KEY, and otherwise the "
            "embedded local model. EHR-grounded cases need a FHIR server holding their "
            "patients (--fhir-url). Rerunning with the same --out skips finished cases."
        ),
    )
    parser.add_argument(
        "--cases",
        type=Path,
        required=True,
        metavar="FILE",
        help="AgentClinic OSCE JSONL (optionally with an 'ehr' block per case)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="run folder (created, or resumed)"
    )
    parser.add_argument(
        "--limit", type=_positive, metavar="N", help="only the first N cases of the file"
    )
    parser.add_argument(
        "--max-turns",
        dest="sim_max_turns",
        type=_positive,
        metavar="N",
        help="doctor actions per case (env EHR_AGENT_SIM_MAX_TURNS; default 20)",
    )
    parser.add_argument(
        "--concurrency",
        dest="sim_concurrency",
        type=_positive,
        metavar="N",
        help="cases simulated at once (env EHR_AGENT_SIM_CONCURRENCY; default 1); the "
        "embedded model then serves at least N requests in parallel",
    )
    parser.add_argument(
        "--ehr-queries",
        dest="sim_ehr_queries",
        type=int,
        metavar="N",
        help="EHR questions allowed per case (env EHR_AGENT_SIM_EHR_QUERIES; default 5)",
    )
    for role, what in _ROLE_HELP.items():
        env = f"EHR_AGENT_SIM_{role.upper()}"
        group = parser.add_argument_group(f"{role} model", f"Endpoint of {what}.")
        group.add_argument(
            f"--{role}-url",
            dest=f"sim_{role}_url",
            metavar="URL",
            help=f"OpenAI-compatible base URL ending in /v1 (env {env}_URL; default: the "
            "embedded local model)",
        )
        group.add_argument(
            f"--{role}-model",
            dest=f"sim_{role}_model",
            metavar="NAME",
            help=f"served model name (env {env}_MODEL; default: the endpoint's first model)",
        )
        group.add_argument(
            f"--{role}-api-key",
            dest=f"sim_{role}_api_key",
            metavar="KEY",
            help=f"bearer key (prefer env {env}_API_KEY: flags show in process lists)",
        )
    add_llm_options(parser)
    add_fhir_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=_run)

    build = sub.add_parser(
        "simulate-cases",
        help="build EHR-grounded simulation cases from FHIR bundles",
        description=(
            "Build simulation cases from raw FHIR bundles (Synthea transaction bundles, .json "
            "or .json.gz, or folders of them), deterministically: a visit with exactly one "
            "new diagnosis becomes a case whose correct diagnosis is that condition; the "
            "patient agent knows the complaint and the history before that day, the "
            "measurement agent the results up to it, and the doctor may query the record "
            "up to the day before."
        ),
    )
    build.add_argument(
        "--bundles",
        nargs="+",
        type=Path,
        required=True,
        metavar="PATH",
        help="bundle files or folders (searched recursively)",
    )
    build.add_argument("--out", type=Path, required=True, metavar="FILE", help="case file (JSONL)")
    build.add_argument(
        "--per-diagnosis",
        type=_positive,
        default=1,
        metavar="N",
        help="at most N visits per diagnosis code (1)",
    )
    build.add_argument("--max-cases", type=_positive, metavar="N", help="at most N cases in all")
    add_json_option(build)
    build.set_defaults(handler=_build)


def _run(args: argparse.Namespace) -> int:
    from evals.simulation.command import simulate_command

    return simulate_command(args)


def _build(args: argparse.Namespace) -> int:
    from evals.simulation.command import build_cases_command

    return build_cases_command(args)

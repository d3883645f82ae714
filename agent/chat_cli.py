"""The ``chat`` subcommand's parser (the implementation is imported when it runs)."""

from __future__ import annotations

import argparse

from agent.cli_common import add_fhir_options, add_llm_options

__all__ = ["register"]


def _chat(args: argparse.Namespace) -> int:
    from agent.chat import chat_command

    return chat_command(args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``ehr-agent chat``."""
    from agent.cli_commands import add_agent_options

    parser = sub.add_parser(
        "chat",
        help="chat about one patient's record in the terminal, with citations",
        description=(
            "An interactive chat about one patient's FHIR record: ask in plain language, "
            "watch the queries run, read the answer with numbered citations and open "
            "them (/sources, /evidence N), export the conversation as Markdown (/export). "
            "Follow-up questions continue the conversation. Ctrl-C stops an answer; /help "
            "inside the chat lists the commands. The chat writes nothing to disk but what "
            "/export writes (the embedded FHIR server and model keep their files under "
            "--data-dir)."
        ),
        epilog=(
            "Examples:\n"
            "  ehr-agent chat\n"
            "  ehr-agent chat --patient 'Carol Harris' --as-of 2020-01-01\n"
            "  EHR_AGENT_LLM_URL=http://gpu:8000/v1 ehr-agent chat --patient PATIENT_ID\n"
            "Research and engineering tool, not a medical device."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--patient",
        metavar="ID|NAME",
        help="patient id or words of the name (asked at start when omitted; several "
        "matches are offered as a numbered list)",
    )
    add_agent_options(parser)
    add_fhir_options(parser)
    add_llm_options(parser)
    parser.set_defaults(handler=_chat)

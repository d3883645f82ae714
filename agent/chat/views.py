"""What the chat prints: banner, patient choices, answers, sources, evidence, help.

Pure functions from the chat's state to rich renderables; record text is always added
as plain :class:`~rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from datetime import date

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent.chat.commands import COMMANDS, KEYS
from agent.chat.conversation import ChatTurn, Conversation, EvidenceLine
from agent.chat.progress import CITATION_STYLE, labelled_text, summary_line
from agent.cli_common import DISCLAIMER
from tools.patients import PatientChoice

__all__ = [
    "answer_view",
    "banner",
    "candidates_view",
    "evidence_view",
    "help_view",
    "patient_line",
    "sources_view",
    "steps_view",
]


def banner(model: str, fhir: str) -> RenderableType:
    """The opening panel: what this is, and what it is not."""
    body = Text.assemble(
        ("ehr-agent chat", "bold"),
        " · questions about one patient's FHIR record, answered with citations\n",
        (DISCLAIMER, "bold yellow"),
        "\n\n",
        ("model  ", "dim"),
        model,
        "\n",
        ("FHIR   ", "dim"),
        fhir,
    )
    return Panel(body, border_style="yellow", expand=False)


def patient_line(
    patient: PatientChoice, as_of: date, *, title: str = "new conversation"
) -> RenderableType:
    """Which patient is loaded and the reference date."""
    today = " (today)" if as_of == date.today() else ""
    body = Text.assemble(
        ("patient  ", "dim"),
        (patient.name, "bold"),
        f" · {patient.gender} · born {patient.birth_date} · id {patient.id}\n",
        ("as of    ", "dim"),
        f"{as_of.isoformat()}{today}",
        ("   records after this date are ignored", "dim"),
    )
    return Panel(body, title=title, title_align="left", expand=False)


def candidates_view(candidates: list[PatientChoice]) -> RenderableType:
    """A numbered list of patients to choose from."""
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style=CITATION_STYLE)
    table.add_column("name")
    table.add_column("gender")
    table.add_column("born")
    table.add_column("id", style="dim", no_wrap=True)
    for index, choice in enumerate(candidates, start=1):
        cells = (choice.name, choice.gender, choice.birth_date, choice.id)
        table.add_row(str(index), *(Text(cell) for cell in cells))
    return table


def answer_view(conversation: Conversation, turn: ChatTurn) -> RenderableType:
    """A finished answer: text with numbered citations, the citations, the folded steps."""
    result = turn.result or {}
    parts: list[RenderableType] = [
        labelled_text(conversation, str(result.get("answer") or "(no answer)"))
    ]
    if result.get("value") is not None:
        unit = f" {result['unit']}" if result.get("unit") else ""
        parts.append(Text(f"value: {result['value']}{unit}", style="bold"))
    summaries = {e["ref"]: e["summary"] for e in result.get("evidence") or []}
    citations = list(result.get("citations") or [])
    if citations:
        table = Table.grid(padding=(0, 1))
        table.add_column(style=CITATION_STYLE, justify="right")
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        for ref in citations:
            number = conversation.numbers.number(ref)
            table.add_row(f"[{number}]", Text(ref), Text(summaries.get(ref, "")))
        parts += [Text(""), table]
    else:
        parts.append(Text("no citations", style="yellow"))
    parts.append(summary_line(turn))
    return Group(*parts)


def sources_view(conversation: Conversation) -> RenderableType:
    """Everything retrieved in the conversation, with handles and citation numbers."""
    rows = conversation.session.sources()
    if not rows:
        return Text("nothing retrieved yet in this conversation", style="dim")
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style=CITATION_STYLE)
    table.add_column("handle", style="bold")
    table.add_column("resource", style="dim", no_wrap=True)
    table.add_column("what the model read", overflow="fold")
    for handle, ref, line in rows:
        number = conversation.numbers.number(ref)
        shown = line.removesuffix(f" [{handle}]")
        table.add_row(f"[{number}]" if number else "", Text(handle), Text(ref), Text(shown))
    cited = len(conversation.numbers)
    caption = f"{len(rows)} resources retrieved, {cited} cited; /evidence N|HANDLE opens one"
    return Group(table, Text(caption, style="dim"))


def evidence_view(conversation: Conversation, ref: str) -> RenderableType:
    """What the model read about ``ref``: the lines citing it and the outputs they are in."""
    handle = conversation.handle_of(ref)
    number = conversation.numbers.number(ref)
    title = Text.assemble(
        (f"[{number}] " if number else "", CITATION_STYLE),
        (ref, "bold"),
        (f"  handle {handle}" if handle else "", "dim"),
    )
    turns = conversation.citing_turns(ref)
    cited = f"cited in answer {', '.join(map(str, turns))}" if turns else "not cited in an answer"
    parts: list[RenderableType] = [title, Text(cited, style="dim")]
    lines = conversation.lines_about(ref)
    if not lines:
        parts.append(Text("no tool output of this conversation mentions it", style="yellow"))
        return Group(*parts)
    parts += [Text(""), Text("what the model read about it:", style="bold")]
    for found in lines:
        parts.append(_evidence_line(found))
    markers = [f"[{ref}]"] + ([f"[{handle}]"] if handle else [])
    seen: set[int] = set()
    for found in lines:
        output = found.output
        # The record overview is the backdrop of every question: its lines suffice.
        if id(output) in seen or output.tool == "record_overview":
            continue
        seen.add(id(output))
        body = Text()
        for index, line in enumerate(output.text.splitlines()):
            if index:
                body.append("\n")
            mentioned = any(marker in line for marker in markers)
            body.append(line, style="bold" if mentioned else "dim")
        cut = f", {output.left_out} left out" if output.left_out else ""
        parts.append(
            Panel(
                body,
                title=Text(f"tool output: {output.call} (question {output.turn})"),
                subtitle=Text(f"{output.rows} rows, ~{output.tokens} tokens{cut}"),
                title_align="left",
                subtitle_align="right",
            )
        )
    return Group(*parts)


def _evidence_line(found: EvidenceLine) -> Text:
    source = f"  ← {found.output.call}, question {found.output.turn}"
    return Text.assemble("  ", found.line, (source, "dim"))


def steps_view(turn: ChatTurn) -> RenderableType:
    """The steps of ``turn``, unfolded."""
    lines = [Text(f"question {turn.number}: {turn.question}", style="bold")]
    lines += [Text(f"  {step}") for step in turn.steps] or [Text("  (no steps)", style="dim")]
    lines.append(summary_line(turn))
    return Group(*lines)


def help_view() -> RenderableType:
    """Commands and keys."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for spec in COMMANDS.values():
        table.add_row(Text(spec.usage), Text(spec.help))
    keys = Table(box=None, show_header=False, pad_edge=False)
    keys.add_column(style="bold", no_wrap=True)
    keys.add_column()
    for key, meaning in KEYS:
        keys.add_row(Text(key), Text(meaning))
    return Group(
        Text("Ask a question in plain language; follow-up questions continue the conversation."),
        Text("Answers cite the record: [N] numbers, listed under each answer.\n"),
        table,
        Text(""),
        keys,
    )

"""``/export``: the conversation as a Markdown transcript, written atomically.

The transcript keeps the agent's own citations (``[Condition/<id>]``) in the answers, so
it can be checked against the record, and lists under each answer the cited resources
with the line the model read about each, the verification status and the usage. It is
the only thing the chat ever writes to disk, and only when asked; the file is created
readable by its owner alone, since it holds patient data.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from agent.chat.conversation import ChatTurn, Conversation
from agent.chat.wording import counted
from agent.cli_common import DISCLAIMER

__all__ = ["ExportError", "TranscriptHeader", "default_export_name", "render_transcript", "write"]


class ExportError(OSError):
    """The transcript could not be written (nothing was left behind)."""


@dataclass(frozen=True)
class TranscriptHeader:
    """What the transcript states about where its answers came from."""

    model: str
    fhir: str
    as_of: date
    exported_at: datetime


def default_export_name(now: datetime) -> str:
    """``ehr-agent-chat-YYYYMMDD-HHMMSS.md``."""
    return f"ehr-agent-chat-{now:%Y%m%d-%H%M%S}.md"


def render_transcript(conversation: Conversation, header: TranscriptHeader) -> str:
    """The conversation as Markdown: questions, answers, citations, usage, disclaimer."""
    patient = conversation.patient
    lines = [
        "# ehr-agent chat transcript",
        "",
        f"> {DISCLAIMER}",
        "",
        f"- Patient: {patient.name} ({patient.gender}, born {patient.birth_date}), "
        f"id `{patient.id}`",
        f"- Reference date: {header.as_of.isoformat()}",
        f"- Model: {header.model}",
        f"- FHIR server: {header.fhir}",
        f"- Conversation: `{conversation.session.thread_id}`, started "
        f"{conversation.started_at:%Y-%m-%d %H:%M:%S %Z}",
        f"- Exported: {header.exported_at:%Y-%m-%d %H:%M:%S %Z}",
        "",
    ]
    for turn in conversation.turns:
        lines += _turn(turn)
    totals = _totals(conversation.answered)
    if totals:
        lines += ["## Totals", "", totals, ""]
    lines += ["---", "", f"*{DISCLAIMER}*", ""]
    return "\n".join(lines)


def _turn(turn: ChatTurn) -> list[str]:
    out = [f"## {turn.number}. {_one_line(turn.question)}", ""]
    if turn.status == "stopped":
        return [*out, "*Stopped before an answer was given.*", ""]
    if turn.status == "failed":
        return [*out, f"*No answer: {turn.failure}*", ""]
    if turn.status == "running" or turn.result is None:
        return [*out, "*No answer.*", ""]
    result = turn.result
    out += [str(result.get("answer") or "(no answer)"), ""]
    if result.get("value") is not None:
        unit = f" {result['unit']}" if result.get("unit") else ""
        out += [f"Value: **{result['value']}{unit}**", ""]
    verified = "verified" if result.get("verified") else "**NOT verified**"
    out += [f"Citations: {verified}", ""]
    summaries = {e["ref"]: e["summary"] for e in result.get("evidence") or []}
    for ref in result.get("citations") or []:
        summary = summaries.get(ref, "")
        out.append(f"- [{ref}] {summary}".rstrip())
    if result.get("citations"):
        out.append("")
    usage = result.get("usage") or {}
    out += [
        f"Usage: {counted(turn.queries, 'query', 'queries')}, {counted(turn.rows, 'row')}; "
        f"{counted(usage.get('llm_calls', 0), 'model call')} "
        f"({usage.get('prompt_tokens', 0)} prompt + "
        f"{usage.get('completion_tokens', 0)} completion tokens); "
        f"{counted(usage.get('fhir_requests', 0), 'FHIR request')}; "
        f"{usage.get('seconds', 0):.1f} s",
        "",
    ]
    return out


def _totals(turns: list[ChatTurn]) -> str:
    if not turns:
        return ""
    usage = [t.result.get("usage") or {} for t in turns if t.result]
    total = {
        key: sum(u.get(key, 0) for u in usage)
        for key in ("llm_calls", "prompt_tokens", "completion_tokens", "fhir_requests", "seconds")
    }
    return (
        f"{counted(len(turns), 'answered question')}; "
        f"{counted(total['llm_calls'], 'model call')} "
        f"({total['prompt_tokens']} prompt + {total['completion_tokens']} completion tokens); "
        f"{counted(total['fhir_requests'], 'FHIR request')}; {total['seconds']:.1f} s"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file renamed over it).

    Raises:
        ExportError: The folder does not exist or cannot be written; no file is left.
    """
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        # Whatever stopped the write (a full disk, Ctrl-C), the partial file goes.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise

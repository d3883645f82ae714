"""The implementation of ``ehr-agent tool``."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from agent.cli_common import UserError, console, print_json, settings_from_args
from agent.runtime import open_fhir
from tools.evidence.base import ToolResult
from tools.fhir import FHIRError
from tools.patients import PatientLookupError, find_patient
from tools.registry import TOOLS
from tools.session import EvidenceSession

__all__ = ["parse_tool_args", "tool_command"]


def parse_tool_args(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict; numbers stay strings (the tool's model converts them)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--arg expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


async def _run(args: argparse.Namespace) -> tuple[ToolResult, str, dict[str, str]]:
    settings = settings_from_args(args)
    as_of = date.fromisoformat(args.as_of) if args.as_of else settings.as_of
    tool_args = parse_tool_args(args.tool_args)
    async with open_fhir(settings) as client:
        try:
            patient = await find_patient(client, args.patient)
        except PatientLookupError as exc:
            raise UserError(str(exc)) from None
        session = EvidenceSession(
            client,
            patient.id,
            as_of=as_of,
            output_tokens=settings.tool_output_tokens,
            citation_style="full" if args.full_ids else "short",
        )
        result = await session.run(args.tool_name, tool_args)
        return result, patient.id, session.cites.known()


def tool_command(args: argparse.Namespace) -> int:
    """Run one tool and print its output (text, or one JSON document)."""
    if args.tool_name not in TOOLS:
        raise UserError(f"unknown tool {args.tool_name!r}; tools: {', '.join(TOOLS)}")
    if args.as_of:
        try:
            date.fromisoformat(args.as_of)
        except ValueError:
            raise UserError(f"--as-of must be YYYY-MM-DD, got {args.as_of!r}") from None
    try:
        result, patient_id, handles = asyncio.run(_run(args))
    except FHIRError as exc:
        raise UserError(f"FHIR server error: {exc}") from None
    if args.save_images and result.images:
        folder = Path(args.save_images)
        folder.mkdir(parents=True, exist_ok=True)
        for number, image in enumerate(result.images, 1):
            (folder / f"image-{number}.png").write_bytes(image.png)
    if args.json:
        doc = result.json_document()
        doc["patient_id"] = patient_id
        doc["handles"] = handles
        print_json(doc)
    else:
        console().print(result.text, markup=False, highlight=False, soft_wrap=True)
    return 2 if result.error else 0

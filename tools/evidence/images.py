"""``images`` and ``view_image``: the images linked to the record, made model-ready.

Images are found where FHIR R4 keeps them: Media.content, DiagnosticReport.presentedForm
and DocumentReference attachments with an ``image/*`` or ``application/dicom`` content
type (bytes inline or in a Binary on the same server), plus ImagingStudy resources
(listed with their modality and body site; their pixels are reachable when a Media or
report links to them). ``view_image`` decodes one (DICOM windowed), letterboxes it to
896x896 and returns it as PNG for a vision model.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from typing import Any

from tools.budget import estimate_tokens
from tools.evidence.args import ImagesArgs, ViewImageArgs
from tools.evidence.base import ImagePayload, ToolError, ToolResult
from tools.imaging import ImageDecodeError, decode_image, to_model_png
from tools.records import condense, reference_id
from tools.render import day, render_record, short_display

__all__ = ["Attachment", "image_attachments", "run_images", "run_view_image"]

_IMAGE_TYPES = ("image/", "application/dicom")
_SOURCES = ("Media", "DiagnosticReport", "DocumentReference", "ImagingStudy")


@dataclass(frozen=True)
class Attachment:
    """One image attachment of a resource."""

    content_type: str
    url: str | None
    data: str | None
    title: str


def image_attachments(resource: dict[str, Any]) -> list[Attachment]:
    """The image attachments of a Media, DiagnosticReport or DocumentReference."""
    rt = resource.get("resourceType")
    raw: list[dict[str, Any]] = []
    if rt == "Media" and isinstance(resource.get("content"), dict):
        raw = [resource["content"]]
    elif rt == "DiagnosticReport":
        raw = [a for a in resource.get("presentedForm") or [] if isinstance(a, dict)]
    elif rt == "DocumentReference":
        raw = [
            c["attachment"]
            for c in resource.get("content") or []
            if isinstance(c, dict) and isinstance(c.get("attachment"), dict)
        ]
    out = []
    for att in raw:
        ctype = str(att.get("contentType", "")).lower()
        if ctype.startswith(_IMAGE_TYPES):
            out.append(
                Attachment(
                    content_type=ctype,
                    url=att.get("url"),
                    data=att.get("data"),
                    title=str(att.get("title", "")),
                )
            )
    return out


async def _linked_resources(session: Any) -> list[dict[str, Any]]:
    pages = await asyncio.gather(
        *(session.scope.search(rt, [("_count", "200")], max_rows=200) for rt in _SOURCES)
    )
    resources = []
    for rt, page in zip(_SOURCES, pages, strict=True):
        for res in page.resources:
            if rt == "ImagingStudy" or image_attachments(res):
                resources.append(res)
    return resources


async def run_images(session: Any, args: ImagesArgs) -> ToolResult:
    """List the images and imaging studies in the record."""
    resources = await _linked_resources(session)
    records = [session.as_of_view(condense(r)) for r in resources]
    records = [r for r in records if session.is_current(r)]
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    # Media.partOf and DiagnosticReport.imagingStudy link pixels to their study.
    linked: dict[str, list[str]] = {}
    for ref, res in by_ref.items():
        if image_attachments(res):
            links = [*(res.get("partOf") or []), *(res.get("imagingStudy") or [])]
            for link in links:
                study = reference_id(link.get("reference") if isinstance(link, dict) else None)
                if study:
                    linked.setdefault(study, []).append(ref)
    lines = []
    for rec in sorted(records, key=lambda r: r.date or "", reverse=True):
        line = render_record(rec, session.cites)
        attachments = image_attachments(by_ref[rec.ref])
        if attachments:
            kinds = ", ".join(sorted({a.content_type for a in attachments}))
            line += f" — image ({kinds}); view_image ref={session.cites.handle(rec.ref)}"
        elif rec.resource_type == "ImagingStudy":
            images = [session.cites.handle(ref) for ref in linked.get(rec.ref, [])]
            line += f" — pixels in {', '.join(images)}" if images else " — no image linked to it"
        lines.append(line)
    if not lines:
        cite = session.cite_patient()
        lines.append(f"No images or imaging studies in this record {cite}.")
    session.remember(records)
    text = "\n".join(lines)
    return ToolResult(
        tool="images",
        text=text,
        records=records,
        citations=[r.ref for r in records] or [session.patient_ref],
        tokens=estimate_tokens(text),
    )


async def _attachment_bytes(session: Any, attachment: Attachment) -> bytes:
    if attachment.data:
        try:
            return base64.b64decode(attachment.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ToolError(f"the image's inline data is not valid base64: {exc}") from exc
    if not attachment.url:
        raise ToolError("the image attachment has neither data nor a url")
    rid = reference_id(attachment.url)
    base = session.scope.client.base_url.rstrip("/")
    same_server = not attachment.url.startswith(
        ("http://", "https://")
    ) or attachment.url.startswith(base)
    if rid is None or not rid.startswith("Binary/") or not same_server:
        raise ToolError("the image is stored outside this FHIR server; it cannot be fetched")
    data, _ = await session.scope.binary(rid.split("/", 1)[1])
    return bytes(data)


async def run_view_image(session: Any, args: ViewImageArgs) -> ToolResult:
    """Fetch, decode and prepare one image for the model."""
    ref = session.cites.resolve(args.ref) or args.ref.strip().strip("[]")
    if "/" not in ref:
        raise ToolError(f"{args.ref!r} is not a handle seen in this session; call images first")
    resource = await session.scope.read(ref)
    rec = condense(resource)
    attachments = image_attachments(resource)
    if not attachments:
        if rec.resource_type == "ImagingStudy":
            raise ToolError(
                f"{args.ref} is an imaging study without linked pixels; call images to find "
                "a Media or report with an image attachment"
            )
        raise ToolError(f"{args.ref} has no image attachment")
    attachment = attachments[0]
    data = await _attachment_bytes(session, attachment)
    try:
        decoded = decode_image(data, attachment.content_type)
    except ImageDecodeError as exc:
        raise ToolError(str(exc)) from exc
    png = to_model_png(decoded)
    session.remember([rec])
    what = short_display(rec.display) or rec.resource_type
    text = (
        f"Image of {what}, {day(rec.date)}: {decoded.content_type} "
        f"{decoded.width}x{decoded.height}, given to the model as 896x896 PNG "
        f"{session.cites.cite(rec.ref)}"
    )
    return ToolResult(
        tool="view_image",
        text=text,
        records=[rec],
        citations=[rec.ref],
        tokens=estimate_tokens(text),
        images=[
            ImagePayload(
                ref=rec.ref,
                png=png,
                width=896,
                height=896,
                source_content_type=decoded.content_type,
            )
        ],
    )

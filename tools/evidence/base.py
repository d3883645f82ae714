"""What every evidence tool shares: its result, its errors, and how it is described.

A tool returns a :class:`ToolResult`: ``text`` is exactly what goes into the prompt,
``records`` the structured facts behind it, ``citations`` the ``Type/id`` of every
resource the text cites. Only model-fixable problems (bad arguments, nothing found, a
request outside the patient's record) become a :class:`ToolError`, whose message is
shown to the model. Infrastructure failures (:class:`tools.fhir.FHIRError` other than a
bad request, :class:`tools.scope.ScopeBreach`) propagate: they are outages, never
evidence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from tools.records import EvidenceRecord

__all__ = ["ImagePayload", "ToolError", "ToolResult", "ToolSpec"]


class ToolError(Exception):
    """A problem the model can fix by calling the tool differently; the message says how."""


class ImagePayload(BaseModel):
    """An image ready for a vision model: PNG bytes at the model's input size."""

    ref: str = Field(description="Type/id of the resource the image belongs to.")
    png: bytes
    width: int
    height: int
    source_content_type: str


class ToolResult(BaseModel):
    """The output of one tool call."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    text: str = Field(description="What the model sees.")
    records: list[EvidenceRecord] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list, description="Type/id cited in text.")
    truncated: int = Field(0, description="Rows left out to stay within the budget.")
    tokens: int = Field(0, description="Approximate tokens of text.")
    images: list[ImagePayload] = Field(default_factory=list)
    error: str | None = Field(None, description="Set when the call failed in a fixable way.")

    def json_document(self) -> dict[str, Any]:
        """The result as one JSON-able document (images as sizes, not bytes)."""
        doc = self.model_dump(mode="json", exclude={"images"})
        doc["images"] = [
            {"ref": im.ref, "width": im.width, "height": im.height, "bytes": len(im.png)}
            for im in self.images
        ]
        return doc


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, purpose and argument schema."""

    name: str
    description: str
    args_model: type[BaseModel]
    #: ``async run(session, args) -> ToolResult``; the session is a tools.session.EvidenceSession.
    run: Callable[[Any, Any], Awaitable[ToolResult]]
    #: Whether the tool returns images (only offered to models that can see).
    needs_vision: bool = False

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments."""
        return self.args_model.model_json_schema()

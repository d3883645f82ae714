"""The evidence tools the model may call, and their registry."""

from tools.evidence.base import ImagePayload, ToolError, ToolResult, ToolSpec

__all__ = ["ImagePayload", "ToolError", "ToolResult", "ToolSpec"]

"""What an OpenAI-compatible endpoint serves, and whether its model takes images.

Neither vLLM nor llama.cpp puts "vision" in the OpenAI API, so it is worked out in this
order and the source is reported:

1. the ``EHR_AGENT_LLM_VISION`` setting, when set (always wins; see the backend);
2. ``/v1/models`` entries with ``architecture.input_modalities`` (recent llama.cpp);
3. llama.cpp's ``GET /props`` → ``modalities.vision`` (true only with an mmproj loaded);
4. the model's name, for known families: MedGemma 4B and 27B multimodal and Gemma 3
   4B/12B/27B take images, MedGemma 27B *text* and Gemma 3 1B do not. vLLM serves the
   original id as ``root`` in ``/v1/models`` even under ``--served-model-name``;
5. otherwise unknown, which the client treats as text-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.llm.errors import LLMError
from agent.llm.transport import ChatTransport

__all__ = ["EndpointInfo", "model_takes_images", "probe_endpoint"]

_TEXT_ONLY = re.compile(r"medgemma-27b-text|gemma-3-1b|gemma-3-270m", re.IGNORECASE)
_VISION = re.compile(r"medgemma(-1\.5)?-(4b|27b)(-it|-pt)?\b|gemma-3-(4b|12b|27b)", re.IGNORECASE)


@dataclass(frozen=True)
class EndpointInfo:
    """The answer of an endpoint to ``GET /v1/models`` (and ``/props`` when served).

    Attributes:
        base_url: The base URL probed (ending in ``/v1``).
        models: Served model ids, in the server's order.
        roots: Original model id per served id, when the server says (vLLM ``root``).
        server: ``"vllm"``, ``"llama.cpp"`` or None when it cannot tell.
        vision: Whether the model takes images, None when unknown.
        vision_source: How ``vision`` was decided.
    """

    base_url: str
    models: list[str]
    roots: dict[str, str] = field(default_factory=dict)
    server: str | None = None
    vision: bool | None = None
    vision_source: str = "unknown"


def model_takes_images(model_name: str) -> bool | None:
    """Whether a known model family takes images; None for unknown names."""
    if _TEXT_ONLY.search(model_name):
        return False
    if _VISION.search(model_name):
        return True
    return None


def probe_endpoint(
    base_url: str,
    *,
    api_key: str | None = None,
    timeout: float = 10.0,
    model: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> EndpointInfo:
    """Ask an endpoint which models it serves and whether they take images.

    Args:
        base_url: Base URL ending in ``/v1``.
        api_key: Bearer key, if needed.
        timeout: Seconds per request.
        model: The model that will be used (vision is decided for it); default: the first.
        transport: Optional httpx transport (tests).

    Raises:
        LLMUnavailable: The endpoint cannot be reached or answers 5xx.
        LLMRequestError: It refuses ``/v1/models`` (for example a wrong key).
    """
    client = ChatTransport(
        base_url, api_key=api_key, timeout=timeout, max_retries=0, transport=transport
    )
    listing = client.get_json("models")
    entries = [e for e in listing.get("data") or [] if isinstance(e, dict) and e.get("id")]
    models = [str(e["id"]) for e in entries]
    roots = {str(e["id"]): str(e["root"]) for e in entries if e.get("root")}
    owners = {str(e.get("owned_by", "")).lower() for e in entries}
    server = "vllm" if "vllm" in owners else "llama.cpp" if "llamacpp" in owners else None
    chosen = model if model is not None else (models[0] if models else None)
    # /props lives at the server root, beside /v1; servers other than llama.cpp 404.
    props_client = ChatTransport(
        client.base_url.removesuffix("/v1"),
        api_key=api_key,
        timeout=timeout,
        max_retries=0,
        transport=transport,
    )
    vision, source = _vision(props_client, entries, chosen, roots)
    return EndpointInfo(client.base_url, models, roots, server, vision, source)


def _vision(
    props_client: ChatTransport,
    entries: list[dict[str, Any]],
    chosen: str | None,
    roots: dict[str, str],
) -> tuple[bool | None, str]:
    for entry in entries:
        if entry.get("id") != chosen:
            continue
        modalities = (entry.get("architecture") or {}).get("input_modalities")
        if isinstance(modalities, list):
            return "image" in modalities, "/v1/models input_modalities"
    props = _props(props_client)
    if props is not None:
        vision = (props.get("modalities") or {}).get("vision")
        if isinstance(vision, bool):
            return vision, "llama.cpp /props"
    for name in (roots.get(chosen or ""), chosen):
        if name:
            known = model_takes_images(name)
            if known is not None:
                return known, f"known model {name}"
    return None, "unknown"


def _props(props_client: ChatTransport) -> dict[str, Any] | None:
    try:
        return props_client.get_json("props")
    except LLMError:
        return None

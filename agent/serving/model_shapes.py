"""The numbers of a model that decide how it can be split across GPUs.

Read from the model's ``config.json`` when a local directory or a Hugging Face cache
copy exists (Gemma 3 multimodal configs keep them in ``text_config``, and omit fields
equal to ``Gemma3TextConfig``'s defaults), else taken from the published configs of the
MedGemma variants below, else unknown (vLLM will still check at start-up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = [
    "PUBLISHED_SHAPES",
    "ModelConfigError",
    "ModelShape",
    "default_hf_cache",
    "load_model_shape",
    "shape_from_config",
]


class ModelConfigError(ValueError):
    """A model's config.json is missing or lacks a field needed for the checks."""


@dataclass(frozen=True)
class ModelShape:
    """Attention and layer counts of a model's language part (and its vision tower).

    Attributes:
        model: Model id or directory the shape belongs to.
        attention_heads: ``num_attention_heads``.
        kv_heads: ``num_key_value_heads``.
        layers: ``num_hidden_layers``.
        max_position_embeddings: Longest context the model supports.
        takes_images: Whether the checkpoint has a vision tower.
        source: Where the numbers come from.
    """

    model: str
    attention_heads: int
    kv_heads: int
    layers: int
    max_position_embeddings: int
    takes_images: bool
    source: str


# MedGemma 4B and 27B are Gemma 3 4B and 27B models (MedGemma model card: "MedGemma is a
# collection of Gemma 3 variants"), so their shapes are Gemma 3's, as published in the
# checkpoints' config.json (text_config):
#   gemma-3-27b / medgemma-27b-it, medgemma-27b-text-it: num_attention_heads 32,
#     num_key_value_heads 16, num_hidden_layers 62, head_dim 128,
#     max_position_embeddings 131072
#   gemma-3-4b / medgemma-4b-it: num_attention_heads 8, num_key_value_heads 4,
#     num_hidden_layers 34, head_dim 256, max_position_embeddings 131072
# https://huggingface.co/google/medgemma-27b-it/blob/main/config.json
# https://huggingface.co/google/medgemma-27b-text-it/blob/main/config.json
# https://huggingface.co/google/medgemma-4b-it/blob/main/config.json
_G27 = dict(attention_heads=32, kv_heads=16, layers=62, max_position_embeddings=131072)
_G4 = dict(attention_heads=8, kv_heads=4, layers=34, max_position_embeddings=131072)
_PUBLISHED = "published config of {model} (a Gemma 3 {size} model)"

PUBLISHED_SHAPES: dict[str, ModelShape] = {
    shape.model: shape
    for shape in (
        ModelShape(
            "google/medgemma-27b-it",
            **_G27,
            takes_images=True,
            source=_PUBLISHED.format(model="google/medgemma-27b-it", size="27B"),
        ),
        ModelShape(
            "google/medgemma-27b-text-it",
            **_G27,
            takes_images=False,
            source=_PUBLISHED.format(model="google/medgemma-27b-text-it", size="27B"),
        ),
        ModelShape(
            "google/medgemma-4b-it",
            **_G4,
            takes_images=True,
            source=_PUBLISHED.format(model="google/medgemma-4b-it", size="4B"),
        ),
        ModelShape(
            "google/medgemma-4b-pt",
            **_G4,
            takes_images=True,
            source=_PUBLISHED.format(model="google/medgemma-4b-pt", size="4B"),
        ),
    )
}

# Gemma3TextConfig's defaults, which Gemma 3 config.json files rely on by omission
# (transformers models/gemma3/configuration_gemma3.py).
_GEMMA3_TEXT_DEFAULTS: dict[str, int] = {
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "num_hidden_layers": 26,
    "max_position_embeddings": 131072,
}


def default_hf_cache() -> Path:
    """Hugging Face's default hub cache (``--hf-cache`` overrides it)."""
    return Path.home() / ".cache" / "huggingface" / "hub"


def load_model_shape(model: str, *, hf_cache: Path | None = None) -> ModelShape | None:
    """Find the shape of ``model`` (a Hugging Face id or a local directory).

    Returns:
        The shape, or None when no config.json is at hand and the model is not known.

    Raises:
        ModelConfigError: A local directory has no usable config.json.
    """
    local = Path(model).expanduser()
    if local.is_dir():
        config = local / "config.json"
        if not config.is_file():
            raise ModelConfigError(f"{local} has no config.json; is it a model directory?")
        return shape_from_config(_read(config), model=model, source=f"config.json in {local}")
    cached = _cached_config(model, hf_cache or default_hf_cache())
    if cached is not None:
        return shape_from_config(
            _read(cached), model=model, source=f"config.json in the Hugging Face cache ({cached})"
        )
    known = PUBLISHED_SHAPES.get(model) or PUBLISHED_SHAPES.get(model.lower())
    return replace(known, model=model) if known else None


def shape_from_config(config: dict[str, Any], *, model: str, source: str) -> ModelShape:
    """Read a :class:`ModelShape` from a parsed Hugging Face ``config.json``.

    Raises:
        ModelConfigError: A needed field is missing.
    """
    nested = config.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else config
    is_gemma3 = text.get("model_type") == "gemma3_text" or config.get("model_type") == "gemma3"
    defaults = _GEMMA3_TEXT_DEFAULTS if is_gemma3 else {}

    def field(name: str) -> int:
        value = text.get(name, defaults.get(name))
        if not isinstance(value, int) or value < 1:
            raise ModelConfigError(f"{source}: missing or invalid {name!r}")
        return value

    heads = field("num_attention_heads")
    # Transformers' convention: no num_key_value_heads means multi-head attention.
    kv_heads = text.get("num_key_value_heads", defaults.get("num_key_value_heads", heads))
    if not isinstance(kv_heads, int) or kv_heads < 1:
        raise ModelConfigError(f"{source}: invalid 'num_key_value_heads'")
    vision = config.get("vision_config")
    return ModelShape(
        model=model,
        attention_heads=heads,
        kv_heads=kv_heads,
        layers=field("num_hidden_layers"),
        max_position_embeddings=field("max_position_embeddings"),
        takes_images=isinstance(vision, dict),
        source=source,
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path} is not a JSON object")
    return data


def _cached_config(model: str, hf_cache: Path) -> Path | None:
    if model.count("/") != 1:
        return None
    repo = hf_cache / ("models--" + model.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        candidate = snapshots / ref.read_text(encoding="utf-8").strip() / "config.json"
        if candidate.is_file():
            return candidate
    found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None

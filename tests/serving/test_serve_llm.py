"""``ehr-agent serve-llm``: the vllm command, and the checks made before it runs."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.cli_common import UserError
from agent.serving.model_shapes import load_model_shape
from agent.serving.vllm_command import VllmServeOptions, plan_vllm_serve

BASE = ["serve-llm", "--dry-run", "--hf-cache", "/nonexistent-hf-cache"]


def _dry_run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main([*BASE, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*BASE, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return " ".join(captured.err.split())  # rich wraps long lines


def test_default_command_serves_medgemma_27b_with_images(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(BASE) == 0
    printed = capsys.readouterr().out.strip()
    assert shlex.split(printed) == [
        "vllm", "serve", "google/medgemma-27b-it",
        "--tensor-parallel-size", "1", "--pipeline-parallel-size", "1",
        "--max-model-len", "32768",
        "--limit-mm-per-prompt", '{"image": 2}',
        "--host", "127.0.0.1", "--port", "8000",
    ]  # fmt: skip


def test_multi_node_settings_pick_ray_and_pass_everything_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _dry_run_json(
        capsys,
        "--model", "google/medgemma-27b-it", "-tp", "8", "-pp", "2", "--gpus-per-node", "8",
        "--max-model-len", "65536", "--images-per-prompt", '{"image": 1}',
        "--served-model-name", "medgemma", "--gpu-memory-utilization", "0.92",
        "--host", "0.0.0.0", "--port", "9000",
        "--", "--enable-prefix-caching", "--api-key", "s3cret",
    )  # fmt: skip
    assert doc["argv"] == [
        "vllm", "serve", "google/medgemma-27b-it",
        "--tensor-parallel-size", "8", "--pipeline-parallel-size", "2",
        "--distributed-executor-backend", "ray",
        "--max-model-len", "65536",
        "--limit-mm-per-prompt", '{"image": 1}',
        "--served-model-name", "medgemma",
        "--gpu-memory-utilization", "0.92",
        "--host", "0.0.0.0", "--port", "9000",
        "--enable-prefix-caching", "--api-key", "s3cret",
    ]  # fmt: skip
    assert doc["executor"] == "ray"
    assert any("16 GPUs span 2 nodes" in w for w in doc["warnings"])
    assert doc["shape_source"].startswith("published config of google/medgemma-27b-it")


def test_tensor_parallelism_must_divide_the_attention_heads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _refused(capsys, "-tp", "3")
    assert (
        "tensor parallel size 3 does not divide the 32 attention heads of "
        "google/medgemma-27b-it; use 1, 2, 4, 8, 16 or 32" in err
    )
    err = _refused(capsys, "--model", "google/medgemma-4b-it", "-tp", "16")
    assert "does not divide the 8 attention heads of google/medgemma-4b-it; use 1, 2, 4 or 8" in err


def test_kv_heads_may_be_split_or_replicated_but_nothing_in_between(tmp_path: Path) -> None:
    # 48 query heads, 8 KV heads: TP 16 replicates each KV head twice (allowed), TP 12
    # divides the query heads but neither divides nor is a multiple of 8 (refused).
    model = _model_dir(tmp_path, num_attention_heads=48, num_key_value_heads=8)
    shape = load_model_shape(str(model))
    assert shape is not None
    plan_vllm_serve(VllmServeOptions(model=str(model), tensor_parallel_size=16), shape)
    with pytest.raises(ValueError, match="neither divides the 8 key-value heads") as caught:
        plan_vllm_serve(VllmServeOptions(model=str(model), tensor_parallel_size=12), shape)
    assert "use 1, 2, 4, 8, 16, 24 or 48" in str(caught.value)


def test_every_invalid_value_is_reported_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(
        capsys,
        "--model", "google/medgemma-27b-text-it", "-pp", "63", "--max-model-len", "200000",
        "--gpu-memory-utilization", "1.2", "--images-per-prompt", "1", "--port", "70000",
    )  # fmt: skip
    assert "GPU memory utilization must be a fraction in (0, 1], got 1.2" in err
    assert "pipeline parallel size 63 exceeds the 62 layers of google/medgemma-27b-text-it" in err
    assert "max model length 200000 exceeds the 131072-token context" in err
    assert "google/medgemma-27b-text-it is a text-only model" in err
    assert "port must be between 1 and 65535, got 70000" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-tp", "0"], "tensor parallel size must be at least 1, got 0"),
        (["-pp", "0"], "pipeline parallel size must be at least 1, got 0"),
        (["--gpu-memory-utilization", "0"], "must be a fraction in (0, 1], got 0"),
        (["--max-model-len", "0"], "max model length must be at least 1 token"),
        (["--images-per-prompt", "-1"], "images per prompt cannot be negative"),
        (["--images-per-prompt", "video=2"], "expected a number of images"),
        (["--dtype", "float16"], "Gemma 3 models overflow in float16"),
        (
            [
                "-tp",
                "8",
                "-pp",
                "2",
                "--gpus-per-node",
                "8",
                "--distributed-executor-backend",
                "mp",
            ],
            "multi-node serving needs Ray",
        ),
    ],
)
def test_invalid_values_are_refused_in_plain_words(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    assert fragment in _refused(capsys, *args)


def test_missing_or_malformed_flag_values_are_usage_errors() -> None:
    for args in (["-tp"], ["-tp", "two"], ["--gpu-memory-utilization", "most"], ["--port"]):
        with pytest.raises(SystemExit) as caught:
            main([*BASE, *args])
        assert caught.value.code == 2


def test_config_json_of_a_local_gemma3_directory_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Gemma 3 multimodal configs keep the text model in text_config and omit the fields
    # equal to Gemma3TextConfig's defaults (8 heads, 4 KV heads): the check must apply them.
    # a deep path, longer than a console line: the error must not break it
    model = tmp_path / ("checkouts-" * 8) / "medgemma-4b-local"
    model.mkdir(parents=True)
    config = {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "text_config": {"model_type": "gemma3_text", "hidden_size": 2560, "num_hidden_layers": 34},
        "vision_config": {"model_type": "siglip_vision_model", "num_attention_heads": 16},
    }
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    err = _refused(capsys, "--model", str(model), "-tp", "16")
    assert f"does not divide the 8 attention heads of {model}; use 1, 2, 4 or 8" in err
    main([*BASE, "--model", str(model), "-tp", "16"])
    assert f" {model};" in capsys.readouterr().err  # whole, on one line
    doc = _dry_run_json(capsys, "--model", str(model), "-tp", "4", "-pp", "2")
    assert doc["argv"][2] == str(model)
    assert doc["shape_source"] == f"config.json in {model}"
    assert doc["argv"][9:11] == ["--limit-mm-per-prompt", '{"image": 2}']


def test_a_hugging_face_cache_copy_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "hub" / "models--acme--tiny-llm"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    (snapshot / "config.json").write_text(
        json.dumps(
            {"num_attention_heads": 12, "num_hidden_layers": 6, "max_position_embeddings": 2048}
        )
    )
    args = [
        "serve-llm",
        "--dry-run",
        "--hf-cache",
        str(tmp_path / "hub"),
        "--model",
        "acme/tiny-llm",
    ]
    assert main([*args, "-tp", "8"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "does not divide the 12 attention heads of acme/tiny-llm; use 1, 2, 3, 4, 6 or 12" in err
    assert main([*args, "--max-model-len", "4096"]) == 2
    assert "exceeds the 2048-token context" in " ".join(capsys.readouterr().err.split())


def test_an_unknown_model_is_passed_on_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _dry_run_json(capsys, "--model", "acme/unknown-model", "-tp", "3")
    assert doc["argv"][:7] == [
        "vllm", "serve", "acme/unknown-model",
        "--tensor-parallel-size", "3", "--pipeline-parallel-size", "1",
    ]  # fmt: skip
    assert "--limit-mm-per-prompt" not in doc["argv"]
    assert "parallelism was not checked" in doc["warnings"][0]


def test_a_local_directory_without_config_json_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "has no config.json" in _refused(capsys, "--model", str(tmp_path))


def test_without_dry_run_a_missing_vllm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from agent.cli import build_parser
    from agent.serving.commands import serve_llm_command

    monkeypatch.setenv("PATH", str(tmp_path))  # no vllm executable anywhere on PATH
    args = build_parser().parse_args(["serve-llm", "--hf-cache", str(tmp_path)])
    with pytest.raises(UserError, match=r"pip install 'ehr-agent\[vllm\]'"):
        serve_llm_command(args)


def _model_dir(tmp_path: Path, **text: int) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    config = {"num_hidden_layers": 32, "max_position_embeddings": 32768, **text}
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return model

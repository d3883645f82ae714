"""Build and check the ``vllm serve`` command for MedGemma (or any model).

The checks mirror what vLLM itself enforces at start-up, but run in a second instead of
after minutes of loading weights, and say what to use instead:

* tensor parallelism must divide the attention heads (vLLM asserts
  ``num_heads % tp == 0`` in every attention layer);
* for key-value heads vLLM accepts either case of ``QKVParallelLinear``: ``tp`` divides
  the KV heads (they are split), or ``tp`` is a multiple of them (each KV head is then
  replicated ``tp / kv_heads`` times);
* the vision tower does not constrain ``tp`` (vLLM's SigLIP falls back to an unsharded
  attention when its heads do not divide);
* every pipeline stage needs at least one layer, so ``pp <= num_hidden_layers`` (vLLM
  spreads an uneven remainder itself);
* ``--max-model-len`` cannot exceed the model's ``max_position_embeddings``;
* ``--gpu-memory-utilization`` is a fraction in (0, 1];
* a world of ``tp * pp`` GPUs larger than one node needs the Ray executor.

The pinned vLLM (see pyproject's ``vllm`` extra) takes JSON for dict-valued flags, so
images per prompt are passed as ``--limit-mm-per-prompt '{"image": N}'``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Literal

from agent.serving.model_shapes import ModelShape

__all__ = [
    "DEFAULT_MAX_MODEL_LEN",
    "DEFAULT_MODEL",
    "ServeConfigError",
    "ServePlan",
    "VllmServeOptions",
    "plan_vllm_serve",
    "valid_tensor_parallel_sizes",
]

DEFAULT_MODEL = "google/medgemma-27b-it"
# The agent's prompts are bounded (overview + evidence budget + answer), so 32k tokens is
# ample; vLLM's default of the full 128k would reserve far more KV cache than needed and
# fail to start on a single 80 GB GPU.
DEFAULT_MAX_MODEL_LEN = 32768
DEFAULT_IMAGES_PER_PROMPT = 2


class ServeConfigError(ValueError):
    """The serving options cannot work; ``problems`` says why, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class VllmServeOptions:
    """What ``ehr-agent serve-llm`` was asked for.

    Attributes:
        model: Hugging Face id or local directory.
        tensor_parallel_size: GPUs each layer is split across.
        pipeline_parallel_size: Consecutive groups of layers (usually one per node).
        distributed_executor_backend: ``mp`` (one node) or ``ray``; None lets it be chosen.
        gpus_per_node: GPUs on each node, to tell whether the world spans several nodes.
        max_model_len: Longest prompt plus output, in tokens.
        images_per_prompt: Images allowed per request; None: 2 for models taking images.
        served_model_name: Name clients send as ``model``; None: the model id.
        gpu_memory_utilization: Fraction of each GPU's memory vLLM may use.
        dtype: Weights and activation dtype (None: the checkpoint's, bfloat16 for Gemma 3).
        host: Interface to listen on (127.0.0.1 unless you mean to expose it).
        port: TCP port.
        extra_args: Passed to ``vllm serve`` verbatim, after everything else.
    """

    model: str = DEFAULT_MODEL
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    distributed_executor_backend: Literal["mp", "ray"] | None = None
    gpus_per_node: int | None = None
    max_model_len: int | None = DEFAULT_MAX_MODEL_LEN
    images_per_prompt: int | None = None
    served_model_name: str | None = None
    gpu_memory_utilization: float | None = None
    dtype: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServePlan:
    """A checked ``vllm serve`` command.

    Attributes:
        argv: The command, starting with ``vllm``.
        warnings: Things that will work but deserve a look (shown before starting).
        shape: The model shape used for the checks, if one was found.
        executor: The distributed executor chosen, if any.
    """

    argv: list[str]
    warnings: list[str] = field(default_factory=list)
    shape: ModelShape | None = None
    executor: str | None = None

    @property
    def shell(self) -> str:
        """The command, shell-quoted for copying."""
        return shlex.join(self.argv)


def valid_tensor_parallel_sizes(shape: ModelShape) -> list[int]:
    """Tensor-parallel sizes vLLM accepts for ``shape``."""
    sizes = []
    for size in range(1, shape.attention_heads + 1):
        if shape.attention_heads % size:
            continue
        if shape.kv_heads % size and size % shape.kv_heads:
            continue
        sizes.append(size)
    return sizes


def plan_vllm_serve(options: VllmServeOptions, shape: ModelShape | None) -> ServePlan:
    """Check ``options`` against ``shape`` and build the command.

    Raises:
        ServeConfigError: With every problem found, each in plain words.
    """
    problems: list[str] = []
    warnings: list[str] = []
    tp, pp = options.tensor_parallel_size, options.pipeline_parallel_size
    if tp < 1:
        problems.append(f"tensor parallel size must be at least 1, got {tp}")
    if pp < 1:
        problems.append(f"pipeline parallel size must be at least 1, got {pp}")
    util = options.gpu_memory_utilization
    if util is not None and not 0 < util <= 1:
        problems.append(
            f"GPU memory utilization must be a fraction in (0, 1], got {util:g} "
            "(for example 0.9 lets vLLM use 90% of each GPU's memory)"
        )
    if options.max_model_len is not None and options.max_model_len < 1:
        problems.append(f"max model length must be at least 1 token, got {options.max_model_len}")
    if options.images_per_prompt is not None and options.images_per_prompt < 0:
        problems.append(f"images per prompt cannot be negative, got {options.images_per_prompt}")
    if not 1 <= options.port <= 65535:
        problems.append(f"port must be between 1 and 65535, got {options.port}")
    if options.gpus_per_node is not None and options.gpus_per_node < 1:
        problems.append(f"GPUs per node must be at least 1, got {options.gpus_per_node}")
    if options.dtype in ("float16", "half") and _is_gemma(options.model, shape):
        problems.append(
            "Gemma 3 models overflow in float16 and produce empty or garbled output; "
            "use --dtype bfloat16 (GPUs without bfloat16 support cannot serve them well)"
        )

    images = options.images_per_prompt
    if shape is None:
        warnings.append(
            f"no config.json found for {options.model} and it is not a known MedGemma "
            "variant, so parallelism was not checked against its shape; vLLM checks it "
            "when it starts (use a local directory or --hf-cache to check now)"
        )
    elif tp >= 1 and pp >= 1:
        if images is None:
            images = DEFAULT_IMAGES_PER_PROMPT if shape.takes_images else None
        problems.extend(_shape_problems(options, shape, images))

    executor = options.distributed_executor_backend
    world = max(tp, 1) * max(pp, 1)
    per_node = options.gpus_per_node
    if per_node is not None and per_node >= 1 and world > per_node:
        nodes = -(-world // per_node)
        if executor == "mp":
            problems.append(
                f"{world} GPUs (tensor {tp} x pipeline {pp}) span {nodes} nodes of "
                f"{per_node} GPUs; multi-node serving needs Ray "
                "(--distributed-executor-backend ray), the mp executor runs on one node"
            )
        elif executor is None:
            executor = "ray"
            warnings.append(
                f"{world} GPUs span {nodes} nodes: using the Ray executor; start a Ray "
                "cluster across the nodes first (ray start --head / ray start --address)"
            )
        if tp > per_node:
            warnings.append(
                f"tensor parallel size {tp} is larger than a node ({per_node} GPUs): "
                "tensor parallelism across nodes is slow; prefer tensor parallel size = "
                "GPUs per node and pipeline parallel size = number of nodes"
            )

    if problems:
        raise ServeConfigError(problems)
    return ServePlan(_argv(options, executor, images), warnings, shape, executor)


def _shape_problems(options: VllmServeOptions, shape: ModelShape, images: int | None) -> list[str]:
    problems: list[str] = []
    tp, pp = options.tensor_parallel_size, options.pipeline_parallel_size
    choices = _or_list(valid_tensor_parallel_sizes(shape))
    if shape.attention_heads % tp:
        problems.append(
            f"tensor parallel size {tp} does not divide the {shape.attention_heads} attention "
            f"heads of {options.model}; use {choices}"
        )
    elif shape.kv_heads % tp and tp % shape.kv_heads:
        problems.append(
            f"tensor parallel size {tp} neither divides the {shape.kv_heads} key-value heads "
            f"of {options.model} nor is a multiple of them (vLLM splits key-value heads "
            f"across GPUs, or replicates each one when the size is a multiple); use {choices}"
        )
    if pp > shape.layers:
        problems.append(
            f"pipeline parallel size {pp} exceeds the {shape.layers} layers of "
            f"{options.model}; every pipeline stage needs at least one layer"
        )
    if options.max_model_len is not None and options.max_model_len > shape.max_position_embeddings:
        problems.append(
            f"max model length {options.max_model_len} exceeds the "
            f"{shape.max_position_embeddings}-token context of {options.model}"
        )
    if images and not shape.takes_images:
        problems.append(
            f"{options.model} is a text-only model, so it cannot take {images} image(s) per "
            "prompt; drop --images-per-prompt (or serve google/medgemma-27b-it for images)"
        )
    return problems


def _argv(options: VllmServeOptions, executor: str | None, images: int | None) -> list[str]:
    argv = [
        "vllm",
        "serve",
        options.model,
        "--tensor-parallel-size",
        str(options.tensor_parallel_size),
        "--pipeline-parallel-size",
        str(options.pipeline_parallel_size),
    ]
    if executor is not None:
        argv += ["--distributed-executor-backend", executor]
    if options.max_model_len is not None:
        argv += ["--max-model-len", str(options.max_model_len)]
    if images is not None:
        argv += ["--limit-mm-per-prompt", f'{{"image": {images}}}']
    if options.served_model_name:
        argv += ["--served-model-name", options.served_model_name]
    if options.gpu_memory_utilization is not None:
        argv += ["--gpu-memory-utilization", f"{options.gpu_memory_utilization:g}"]
    if options.dtype:
        argv += ["--dtype", options.dtype]
    argv += ["--host", options.host, "--port", str(options.port)]
    return argv + list(options.extra_args)


def _is_gemma(model: str, shape: ModelShape | None) -> bool:
    return "gemma" in model.lower() or (shape is not None and "gemma" in shape.source.lower())


def _or_list(values: list[int]) -> str:
    words = [str(v) for v in values]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]

"""Replace this process with ``vllm serve`` (vLLM is an optional extra)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["VLLM_INSTALL_HINT", "VllmNotInstalled", "exec_vllm", "find_vllm"]

VLLM_INSTALL_HINT = "pip install 'ehr-agent[vllm]'"


class VllmNotInstalled(RuntimeError):
    """The ``vllm`` command is not available."""


def find_vllm() -> str:
    """Path of the ``vllm`` command: beside this interpreter first, then on PATH.

    Raises:
        VllmNotInstalled: Neither exists.
    """
    beside = Path(sys.executable).with_name("vllm")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("vllm")
    if found is None:
        raise VllmNotInstalled(
            f"vLLM is not installed (no `vllm` command); install it on the GPU machine with: "
            f"{VLLM_INSTALL_HINT}, or use --dry-run to print the command"
        )
    return found


def exec_vllm(argv: list[str]) -> None:
    """Run ``argv`` (starting with ``vllm``) in place of this process; returns only on error.

    Raises:
        VllmNotInstalled: vLLM is not installed.
    """
    executable = find_vllm()
    sys.stdout.flush()
    sys.stderr.flush()
    # exec keeps signals and exit status with vLLM itself, as a supervisor expects.
    os.execv(executable, [executable, *argv[1:]])  # noqa: S606 - argv built and checked here

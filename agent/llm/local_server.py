"""The embedded model: a real llama.cpp OpenAI-compatible server on loopback.

:class:`LocalModelServer` starts ``xllamacpp``'s server in this process on
``127.0.0.1`` with a free port. The agent then talks to it over HTTP exactly as it talks
to vLLM, so laptops and CI exercise the production code path. It serves ``/v1/models``,
``/v1/chat/completions`` (streaming and ``response_format`` JSON schemas, turned into a
grammar) and llama.cpp's ``/props``.

Threads: one thread often beats two on a busy 2-core CI machine (generation is memory
bound and a second thread competes with the rest of the test run), hence the default of
``Settings.local_threads = 1``. ``local_ctx`` is the context of one request; the server
gets ``local_ctx * local_parallel`` in total because llama.cpp splits its context
evenly between its parallel slots.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.llm.errors import LocalModelError, LocalRuntimeMissing
from agent.llm.local_models import LOCAL_MODELS, resolve_model_file

__all__ = ["LocalModelServer"]


class LocalModelServer:
    """The embedded llama.cpp server, as a context manager.

    Explicit arguments override ``settings``; with neither, ``Settings()`` defaults apply
    (the environment is read only by whoever builds the settings).

    Args:
        settings: Source of ``local_model``, ``local_threads``, ``local_ctx``,
            ``local_parallel`` and ``data_dir``.
        model: Packaged model name (see :data:`~agent.llm.local_models.LOCAL_MODELS`).
        model_path: A GGUF file to load instead of a packaged model (not hash-checked).
        threads: CPU threads for generation and prompt processing.
        ctx: Context size of one request, in tokens.
        parallel: Requests served concurrently (llama.cpp slots).
        data_dir: Where assembled model files are kept.
        verbose: Let llama.cpp log to stderr.

    Example:
        >>> with LocalModelServer(Settings(local_model="smollm2-135m")) as server:  # doctest: +SKIP
        ...     chat = OpenAICompatibleChat(base_url=server.base_url, model=server.model_name)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: str | None = None,
        model_path: Path | None = None,
        threads: int | None = None,
        ctx: int | None = None,
        parallel: int | None = None,
        data_dir: Path | None = None,
        verbose: bool = False,
    ) -> None:
        base = settings or Settings()
        self.model_name: str = model or (model_path.stem if model_path else base.local_model)
        self.model_path = model_path
        self.threads = threads or base.local_threads
        self.ctx = ctx or base.local_ctx
        self.parallel = parallel or base.local_parallel
        self.data_dir = data_dir or base.data_dir
        self.verbose = verbose
        self.load_seconds: float | None = None
        self._server: Any = None
        self._base_url: str | None = None
        if model_path is None and self.model_name not in LOCAL_MODELS:
            known = ", ".join(sorted(LOCAL_MODELS))
            raise LocalModelError(f"unknown local model {self.model_name!r}; known: {known}")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` while running."""
        if self._base_url is None:
            raise RuntimeError("the local model server is not running")
        return self._base_url

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Verify the model file, load it and start listening.

        Raises:
            LocalRuntimeMissing: xllamacpp is not installed.
            LocalModelMissing: The model's wheels are not installed.
            LocalModelCorrupt: The model file fails its sha256 check.
            LocalModelError: llama.cpp could not load the model.
        """
        if self._server is not None:
            return
        xllamacpp = _import_runtime()
        path = self.model_path or resolve_model_file(self.model_name, self.data_dir)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.model_name}
        params.n_ctx = self.ctx * self.parallel
        params.n_parallel = self.parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.ui = False
        params.verbosity = 3 if self.verbose else 0
        started = time.perf_counter()
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise LocalModelError(
                f"llama.cpp could not load {path} ({exc}); try a smaller EHR_AGENT_LOCAL_CTX "
                "or rerun with verbose logging"
            ) from exc
        self.load_seconds = time.perf_counter() - started
        self._base_url = str(self._server.listening_address).rstrip("/") + "/v1"

    def close(self) -> None:
        """Stop the server (idempotent)."""
        if self._server is None:
            return
        self._server = None
        self._base_url = None
        # The C++ server shuts down in its destructor; make sure it runs now.
        gc.collect()


def _import_runtime() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalRuntimeMissing(
            "the embedded model needs xllamacpp, which is not installed; install it with: "
            "pip install 'ehr-agent[local]' (or `make venv` in a checkout), or set "
            "EHR_AGENT_LLM_URL to an OpenAI-compatible server"
        ) from exc
    return xllamacpp

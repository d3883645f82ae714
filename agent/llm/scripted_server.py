r"""A scripted OpenAI-compatible HTTP server on loopback, for tests.

It speaks the same protocol as vLLM and llama.cpp (``GET /v1/models``,
``POST /v1/chat/completions`` with and without ``stream``), so the real client, the
terminal chat in a pseudo-terminal or the HTTP backend can be pointed at it through
``EHR_AGENT_LLM_URL``. Replies come from a script; every request body is recorded.

A script is a list of steps. In Python a step may be a string (the reply), a dict (see
below) or a callable taking the request body and returning either. In a JSON file::

    {
      "model": "scripted",              # id listed by /v1/models
      "vision": false,                  # if present, answer like llama.cpp (/props and
                                        # input_modalities), else like vLLM
      "repeat_last": false,             # reuse the last step once the script is spent
      "steps": [
        {"content": "{\"tool\": \"labs\"}", "match": {"schema": "plan"}},
        {"content": "Her HbA1c fell [Observation/abc].", "usage": {"prompt_tokens": 9}},
        {"status": 503, "error": "overloaded", "headers": {"Retry-After": "0"}},
        {"delay": 1.5, "content": "late"},
        {"content": "", "tool_calls": [{"id": "c1", "name": "labs", "arguments": {}}]}
      ]
    }

A step with ``match`` is used only for a request whose ``response_format`` schema name
equals ``match.schema`` and/or whose message text contains ``match.contains``; steps
are otherwise consumed in order. With nothing left the server answers HTTP 409 with a
message saying so (a 4xx, so clients fail at once instead of retrying).

Run it as a process (prints ``READY <base_url>`` once listening)::

    python -m agent.llm.scripted_server --script FILE --port 0 [--record requests.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ScriptedOpenAIServer", "main"]

Step = str | dict[str, Any] | Callable[[dict[str, Any]], "str | dict[str, Any]"]

_START_TIMEOUT_S = 10.0


class ScriptedOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 that replies from a script.

    Use as a context manager; ``base_url`` (ending in ``/v1``) is valid inside it.

    Args:
        steps: The script (see the module docstring).
        model: Model id listed by ``/v1/models``.
        vision: When not None, behave like llama.cpp: ``GET /props`` answers
            ``{"modalities": {"vision": vision}}`` and ``/v1/models`` lists input
            modalities. When None, behave like vLLM: no ``/props``, ``owned_by: vllm``.
        repeat_last: Reuse the last step once the script is spent.
        port: TCP port; 0 picks a free one.
        record_path: Also append each request body to this JSON-lines file.
    """

    def __init__(
        self,
        steps: Sequence[Step] = (),
        *,
        model: str = "scripted",
        vision: bool | None = None,
        repeat_last: bool = False,
        port: int = 0,
        record_path: Path | None = None,
    ) -> None:
        self.model = model
        self.vision = vision
        self.repeat_last = repeat_last
        self.requests: list[dict[str, Any]] = []
        self._steps: list[Step] = list(steps)
        self._last: Step | None = None
        self._lock = threading.Lock()
        self._record_path = record_path
        self._port = port
        self._socket: socket.socket | None = None
        self._base_url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_file(
        cls, path: Path, *, port: int = 0, record_path: Path | None = None
    ) -> ScriptedOpenAIServer:
        """Build a server from a JSON script file."""
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            spec.get("steps", []),
            model=spec.get("model", "scripted"),
            vision=spec.get("vision"),
            repeat_last=bool(spec.get("repeat_last", False)),
            port=port,
            record_path=record_path,
        )

    # ----- lifecycle ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (still readable after the server stopped)."""
        if self._base_url is None:
            raise RuntimeError("the scripted server has not been started")
        return self._base_url

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving in a background thread and wait until it accepts connections."""
        self._socket = _bind(self._port)
        self._base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        self._server = uvicorn.Server(_config(self.app()))
        sockets = [self._socket]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the scripted OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the ``__main__`` entry)."""
        self._socket = _bind(self._port)
        self._base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        server = uvicorn.Server(_config(self.app()))
        print(f"READY {self.base_url}", flush=True)
        server.run(sockets=[self._socket])

    # ----- the app --------------------------------------------------------------------

    def app(self) -> Starlette:
        """The Starlette application serving the script."""
        routes = [
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
        ]
        if self.vision is not None:
            routes.append(Route("/props", self._props, methods=["GET"]))
        return Starlette(routes=routes)

    async def _models(self, request: Request) -> Response:
        entry: dict[str, Any] = {"id": self.model, "object": "model"}
        if self.vision is None:
            # Like vLLM: the original model id as root, nothing about modalities.
            entry.update(owned_by="vllm", root=self.model)
        else:
            modalities = ["text", "image"] if self.vision else ["text"]
            entry.update(owned_by="llamacpp", architecture={"input_modalities": modalities})
        return JSONResponse({"object": "list", "data": [entry]})

    async def _props(self, request: Request) -> Response:
        return JSONResponse({"modalities": {"vision": bool(self.vision), "audio": False}})

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "request needs a 'messages' list")
        self._record(body)
        step = self._take(body)
        if step is None:
            return _error(409, "scripted server: no scripted reply left for this request")
        if callable(step):
            step = step(body)
        spec: dict[str, Any] = {"content": step} if isinstance(step, str) else dict(step)
        if spec.get("delay"):
            await asyncio.sleep(float(spec["delay"]))
        if "status" in spec:
            return _error(
                int(spec["status"]), str(spec.get("error", "scripted error")), spec.get("headers")
            )
        if body.get("stream"):
            return StreamingResponse(self._stream(body, spec), media_type="text/event-stream")
        return JSONResponse(self._completion(body, spec))

    # ----- replies --------------------------------------------------------------------

    def _take(self, body: dict[str, Any]) -> Step | None:
        with self._lock:
            for index, step in enumerate(self._steps):
                if _matches(step, body):
                    del self._steps[index]
                    self._last = step
                    return step
            return self._last if self.repeat_last else None

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)
            if self._record_path is not None:
                with self._record_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(body) + "\n")

    def _completion(self, body: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        content = str(spec.get("content", ""))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        calls = _tool_calls(spec)
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": spec.get("finish_reason", "tool_calls" if calls else "stop"),
                }
            ],
            "usage": _usage(body, content, spec),
        }

    async def _stream(self, body: dict[str, Any], spec: dict[str, Any]) -> AsyncIterator[str]:
        content = str(spec.get("content", ""))
        pieces = spec.get("chunks") or _words(content)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
        }

        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n"

        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for piece in pieces:
            if spec.get("chunk_delay"):
                await asyncio.sleep(float(spec["chunk_delay"]))
            yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
        calls = _tool_calls(spec)
        for index, call in enumerate(calls):
            delta = {"tool_calls": [{"index": index, **call}]}
            yield event([{"index": 0, "delta": delta, "finish_reason": None}])
        finish = spec.get("finish_reason", "tool_calls" if calls else "stop")
        yield event([{"index": 0, "delta": {}, "finish_reason": finish}])
        if (body.get("stream_options") or {}).get("include_usage"):
            yield event([], usage=_usage(body, content, spec))
        yield "data: [DONE]\n\n"


def _matches(step: Step, body: dict[str, Any]) -> bool:
    if not isinstance(step, dict) or "match" not in step:
        return True
    match = step["match"]
    if "schema" in match:
        requested = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        if requested != match["schema"]:
            return False
    return not ("contains" in match and match["contains"] not in _request_text(body))


def _request_text(body: dict[str, Any]) -> str:
    texts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(part.get("text", "") for part in content if isinstance(part, dict))
    return "\n".join(texts)


def _tool_calls(spec: dict[str, Any]) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(spec.get("tool_calls") or []):
        arguments = call.get("arguments", {})
        calls.append(
            {
                "id": call.get("id", f"call_{index}"),
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
    return calls


def _usage(body: dict[str, Any], content: str, spec: dict[str, Any]) -> dict[str, int]:
    given = spec.get("usage") or {}
    prompt = int(given.get("prompt_tokens", max(1, len(_request_text(body)) // 4)))
    completion = int(given.get("completion_tokens", max(1, len(content) // 4)))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _words(content: str) -> list[str]:
    words = content.split(" ")
    return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words) if w or i == 0]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    # The OpenAI error shape, which llama.cpp and vLLM also use.
    return JSONResponse(
        {"error": {"message": message, "type": "scripted_error", "code": status}},
        status_code=status,
        headers=headers,
    )


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def _config(app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a JSON script until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m agent.llm.scripted_server")
    parser.add_argument("--script", type=Path, required=True, help="JSON script file")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--record", type=Path, help="append request bodies to this JSONL file")
    args = parser.parse_args(argv)
    server = ScriptedOpenAIServer.from_file(args.script, port=args.port, record_path=args.record)
    server.serve_forever()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

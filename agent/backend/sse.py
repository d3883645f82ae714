"""The agent's events as server-sent events (``text/event-stream``).

One SSE event per agent event, named after its type (``step``, ``evidence``, ``token``,
``final``, ``error``) with a JSON ``data`` line and an increasing ``id``:

* ``step``, ``evidence``, ``token``: ``{"node", "message", "data"}`` as the agent emits them
  (``token.message`` is a piece of the answer text; ``evidence.data.text`` is what the model
  read);
* ``final``: the same body as ``POST /v1/ask`` returns (:class:`AskResponse`);
* ``error``: ``{"status", "error", "message", "details"}``, the HTTP status the same failure
  would have had on ``POST /v1/ask``.

``final`` or ``error`` is always the last event. A comment line (``: keep-alive``) is sent
when nothing happened for a while, so that proxies keep the connection open.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from agent.backend.answering import QuestionRun, answer_from_final, error_event_payload
from agent.backend.errors import error_payload

__all__ = ["KEEPALIVE_S", "encode_event", "sse_stream"]

log = logging.getLogger("ehr_agent.backend")

#: Seconds without an event before a keep-alive comment is sent.
KEEPALIVE_S = 15.0


def encode_event(kind: str, data: Any, event_id: int) -> bytes:
    """One SSE event (``json.dumps`` never emits a raw newline, so ``data`` is one line)."""
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n".encode()


async def sse_stream(run: QuestionRun, *, keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[bytes]:
    """The SSE body of a running question."""
    prepared = run.prepared
    event_id = 0
    events = run.events(idle_s=keepalive_s)
    try:
        async for item in events:
            if item is None:
                yield b": keep-alive\n\n"
                continue
            event_id += 1
            kind = item.get("type", "step")
            if kind == "final":
                body = answer_from_final(item["data"]["result"], prepared.session_id)
                yield encode_event("final", body.model_dump(mode="json"), event_id)
            elif kind == "error":
                status, payload = error_event_payload(item, prepared.caller)
                yield encode_event("error", {"status": status, **payload}, event_id)
            else:
                data = {
                    "node": item.get("node", ""),
                    "message": item.get("message", ""),
                    "data": item.get("data") or {},
                }
                yield encode_event(kind, data, event_id)
    except Exception:
        # The response has started (200): the status cannot change any more, but the
        # stream must still end with an error event. The defect is logged with its trace.
        log.exception("the agent failed while streaming an answer")
        payload = error_payload("internal_error", "internal error; the server log has details")
        yield encode_event("error", {"status": 500, **payload}, event_id + 1)
    finally:
        await events.aclose()

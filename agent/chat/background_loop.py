"""An asyncio event loop in a worker thread, driven from a synchronous terminal loop.

The chat reads the keyboard with a plain blocking ``input()`` in the main thread, where
Ctrl-C arrives as :class:`KeyboardInterrupt` exactly as in any terminal program. The
agent (FHIR client, model client, checkpointer) lives on an event loop in a worker
thread. A Ctrl-C while the main thread waits for that loop cancels the task it waits
for, waits until the task has unwound (connections closed, generators finalised), and
then re-raises :class:`KeyboardInterrupt` in the main thread, so the caller decides what
an interruption means (stop the answer, leave the chat).

Async context managers handed to :meth:`BackgroundLoop.hold` are entered and exited by
one keeper task each, so libraries that tie a context to the task that entered it (anyio
cancel scopes in httpx, aiosqlite) see a well-formed lifetime.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["UNWIND_TIMEOUT_S", "BackgroundLoop", "LoopClosed"]

T = TypeVar("T")

#: How long an interrupted task may take to unwind before the caller stops waiting.
UNWIND_TIMEOUT_S = 10.0


class LoopClosed(RuntimeError):
    """The background loop is not running (used outside its ``with`` block)."""


class _Job(Generic[T]):
    """A task created on the loop from another thread; cancellable and awaitable there.

    The task is always created (a cancellation requested before it started still lets
    it run its cancellation), and ``done`` is set once it has finished, however it did.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        self._loop = loop
        self._task: asyncio.Task[T] | None = None
        self._outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.done = threading.Event()
        loop.call_soon_threadsafe(self._start, coro)

    def _start(self, coro: Coroutine[Any, Any, T]) -> None:
        self._task = self._loop.create_task(coro)
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[T]) -> None:
        if task.cancelled():
            self._outcome.cancel()
        elif (error := task.exception()) is not None:
            self._outcome.set_exception(error)
        else:
            self._outcome.set_result(task.result())
        self.done.set()

    def result(self) -> T:
        """Wait for the task's result (Ctrl-C interrupts the wait, not the task)."""
        return self._outcome.result()

    def cancel_and_wait(self) -> None:
        """Cancel the task and wait, bounded, until it has unwound."""
        self._loop.call_soon_threadsafe(self._cancel)
        self.done.wait(timeout=UNWIND_TIMEOUT_S)

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


class BackgroundLoop:
    """An event loop running in a daemon thread for the life of a ``with`` block."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._held: list[tuple[asyncio.Event, _Job[None]]] = []

    # ----- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> BackgroundLoop:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="chat-agent-loop", daemon=True)
        self._thread.start()
        started.wait()
        self._loop = loop
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Exit every held context (last held first), then stop and close the loop.

        Raises:
            The first error a held context raised while exiting, after all are closed.
        """
        loop = self._loop
        if loop is None:
            return
        first_error: BaseException | None = None
        try:
            while self._held:
                release, keeper = self._held.pop()
                loop.call_soon_threadsafe(release.set)
                keeper.done.wait(timeout=UNWIND_TIMEOUT_S)
                try:
                    keeper.result()
                except (Exception, concurrent.futures.CancelledError) as exc:
                    first_error = first_error or exc
            self._finalise(loop)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=UNWIND_TIMEOUT_S)
            if self._thread is None or not self._thread.is_alive():
                loop.close()
            self._loop = None
            self._thread = None
        if first_error is not None:
            raise first_error

    def _finalise(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel tasks still pending and finalise async generators."""

        async def finalise() -> None:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await loop.shutdown_asyncgens()

        job = _Job(loop, finalise())
        job.done.wait(timeout=UNWIND_TIMEOUT_S)

    def _running(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise LoopClosed("the background event loop is not running")
        return self._loop

    # ----- running work ---------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception).

        Raises:
            KeyboardInterrupt: Ctrl-C while waiting; the task was cancelled and has
                finished unwinding (or ``UNWIND_TIMEOUT_S`` passed).
        """
        try:
            loop = self._running()
        except LoopClosed:
            coro.close()  # never to run: close it rather than leave it un-awaited
            raise
        job: _Job[T] | None = None
        try:
            job = _Job(loop, coro)
            return job.result()
        except KeyboardInterrupt:
            if job is not None:
                job.cancel_and_wait()
            raise

    def iterate(self, source: AsyncIterator[T]) -> Generator[T, None, None]:
        """Iterate an async iterator running on the loop, item by item, in this thread.

        Closing the returned generator early, or a Ctrl-C while it waits, cancels the
        iterator's task and waits until it has unwound (an async generator's ``aclose``
        included) before returning or re-raising.
        """
        items: queue.Queue[tuple[bool, Any]] = queue.Queue()

        async def pump() -> None:
            try:
                try:
                    async for item in source:
                        items.put((False, item))
                finally:
                    aclose = getattr(source, "aclose", None)
                    if aclose is not None:
                        await aclose()
            finally:
                items.put((True, None))

        job = _Job(self._running(), pump())
        finished = False
        try:
            while True:
                end, item = items.get()
                if end:
                    finished = True
                    break
                yield item
        finally:
            if not finished:
                job.cancel_and_wait()
        job.done.wait(timeout=UNWIND_TIMEOUT_S)
        job.result()  # re-raises what ended the source, if it failed

    def hold(self, context: AbstractAsyncContextManager[T]) -> T:
        """Enter ``context`` on the loop and keep it open until :meth:`close`.

        Raises:
            Whatever entering the context raised; KeyboardInterrupt on Ctrl-C.
        """
        loop = self._running()
        entered: concurrent.futures.Future[T] = concurrent.futures.Future()
        release_box: list[asyncio.Event] = []

        async def keeper() -> None:
            release = asyncio.Event()
            release_box.append(release)
            try:
                async with context as value:
                    entered.set_result(value)
                    await release.wait()
            except BaseException as exc:
                if not entered.done():
                    entered.set_exception(exc)
                raise

        job = _Job(loop, keeper())
        try:
            value = entered.result()
        except KeyboardInterrupt:
            job.cancel_and_wait()
            raise
        self._held.append((release_box[0], job))
        return value

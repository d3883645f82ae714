"""The agent's event loop in a worker thread, and Ctrl-C cancelling the work it waits for.

Ctrl-C is a real SIGINT sent to the main thread (where pytest runs the test), which is
how the terminal delivers it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

import pytest

from agent.chat.background_loop import BackgroundLoop, LoopClosed


@contextmanager
def _ctrl_c_once(started: threading.Event) -> Iterator[None]:
    """Send SIGINT to the main thread as soon as ``started`` is set (the work is waiting)."""
    main = threading.main_thread().ident
    assert main is not None
    stop = threading.Event()

    def fire() -> None:
        while not stop.is_set():
            if started.wait(0.05):
                # and a moment more, so that the main thread is inside its blocking wait
                if not stop.wait(0.3):
                    signal.pthread_kill(main, signal.SIGINT)
                return

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_call_returns_results_and_raises_errors_from_the_loop_thread() -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    async def fail() -> None:
        raise ValueError("boom")

    with BackgroundLoop() as loop:
        assert loop.call(where()) == "chat-agent-loop"
        with pytest.raises(ValueError, match="boom"):
            loop.call(fail())
    with pytest.raises(LoopClosed):
        loop.call(where())


def test_ctrl_c_cancels_the_awaited_call_and_waits_for_its_cleanup() -> None:
    cleaned: list[str] = []
    waiting = threading.Event()

    async def forever() -> None:
        try:
            waiting.set()
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.05)  # cleanup that itself awaits
            cleaned.append("done")

    with BackgroundLoop() as loop:
        started = time.monotonic()
        with _ctrl_c_once(waiting), pytest.raises(KeyboardInterrupt):
            loop.call(forever())
        assert cleaned == ["done"]
        assert time.monotonic() - started < 5
        # The loop is still usable afterwards.
        assert loop.call(asyncio.sleep(0, result=7)) == 7


def test_iterate_streams_items_in_order_then_the_source_error() -> None:
    async def source() -> AsyncIterator[int]:
        for item in range(3):
            await asyncio.sleep(0.01)
            yield item
        raise RuntimeError("source broke")

    seen: list[int] = []

    def consume(stream: Iterator[int]) -> None:
        for item in stream:
            seen.append(item)

    with BackgroundLoop() as loop, pytest.raises(RuntimeError, match="source broke"):
        consume(loop.iterate(source()))
    assert seen == [0, 1, 2]


def test_ctrl_c_while_streaming_closes_the_source_before_raising() -> None:
    events: list[str] = []
    waiting = threading.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.sleep(60)
            yield "never"
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("closed")

    received: list[str] = []

    def consume(stream: Iterator[str]) -> None:
        for item in stream:
            received.append(item)
            waiting.set()  # Ctrl-C comes while the next item is awaited

    with BackgroundLoop() as loop:
        with _ctrl_c_once(waiting), pytest.raises(KeyboardInterrupt):
            consume(loop.iterate(source()))
        assert events == ["cancelled", "closed"]
    assert received == ["first"]


def test_leaving_a_stream_early_closes_its_source() -> None:
    closed = threading.Event()

    async def source() -> AsyncIterator[int]:
        try:
            for item in range(1000):
                yield item
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    with BackgroundLoop() as loop:
        stream = loop.iterate(source())
        assert next(stream) == 0
        stream.close()
        assert closed.is_set()


def test_held_contexts_are_entered_and_exited_by_one_task_last_first() -> None:
    log: list[tuple[str, str, int]] = []

    def context(name: str, fail_on_exit: bool = False) -> AbstractAsyncContextManager[str]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[str]:
            task = id(asyncio.current_task())
            log.append(("enter", name, task))
            try:
                yield name.upper()
            finally:
                log.append(("exit", name, id(asyncio.current_task())))
                assert id(asyncio.current_task()) == task
                if fail_on_exit:
                    raise OSError(f"{name} did not close")

        return opened()

    loop = BackgroundLoop().__enter__()
    assert loop.hold(context("fhir", fail_on_exit=True)) == "FHIR"
    assert loop.hold(context("store")) == "STORE"
    assert [entry[:2] for entry in log] == [("enter", "fhir"), ("enter", "store")]
    with pytest.raises(OSError, match="fhir did not close"):
        loop.close()
    assert [entry[:2] for entry in log[2:]] == [("exit", "store"), ("exit", "fhir")]
    assert log[0][2] == log[3][2]  # fhir: one task entered and exited it
    assert log[1][2] == log[2][2]


def test_a_context_that_fails_to_open_raises_in_the_caller() -> None:
    @asynccontextmanager
    async def unreachable() -> AsyncIterator[None]:
        raise ConnectionError("FHIR server down")
        yield

    with BackgroundLoop() as loop, pytest.raises(ConnectionError, match="FHIR server down"):
        loop.hold(unreachable())

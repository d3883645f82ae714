"""Driving ``ehr-agent chat`` in a real pseudo-terminal (pexpect), reading what it shows.

Everything the program writes is kept, with terminal control sequences removed, so a
test can wait for text, assert on what appeared in between (including frames of the
live region that were later erased), type lines and press Ctrl-C / Ctrl-D.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pexpect

# CSI (cursor moves, colours, erase, bracketed paste), OSC, charset and keypad modes.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
_EHR_AGENT = Path(sys.executable).with_name("ehr-agent")


def clean_env(**settings: str) -> dict[str, str]:
    """The test's environment without any EHR_AGENT_* of the caller, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHR_AGENT_")}
    env.pop("NO_COLOR", None)
    env.update(TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


@dataclass(frozen=True)
class ChatPlace:
    """Where a chat process runs: its working folder, home and data folder (all empty)."""

    cwd: Path
    home: Path
    data_dir: Path


class ChatTerminal:
    """One ``ehr-agent chat`` process on a pseudo-terminal of 60 rows by 220 columns."""

    def __init__(self, args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60):
        assert _EHR_AGENT.exists(), f"{_EHR_AGENT} is missing: install the project (pip -e .)"
        self.timeout = timeout
        self.child = pexpect.spawn(
            str(_EHR_AGENT),
            ["chat", *args],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(60, 220),
            timeout=timeout,
        )
        self.text = ""
        self.position = 0
        self._pending = ""
        self.ended = False

    # ----- reading --------------------------------------------------------------------

    def _pump(self, wait: float) -> None:
        try:
            chunk = self.child.read_nonblocking(1 << 16, timeout=wait)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            self.ended = True
            chunk = ""
        raw = self._pending + chunk
        # Keep an escape sequence cut in half for the next read.
        cut = raw.rfind("\x1b")
        if cut != -1 and not self.ended and not _CONTROL.match(raw, cut) and len(raw) - cut < 64:
            raw, self._pending = raw[:cut], raw[cut:]
        else:
            self._pending = ""
        self.text += _CONTROL.sub("", raw).replace("\r", "")

    def expect(self, pattern: str | re.Pattern[str], timeout: float | None = None) -> str:
        """Wait for ``pattern`` after the last match; return the text up to its end."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            match = regex.search(self.text, self.position)
            if match:
                seen = self.text[self.position : match.end()]
                self.position = match.end()
                return seen
            if self.ended or time.monotonic() > deadline:
                waited = timeout or self.timeout
                state = "the chat exited" if self.ended else f"not shown within {waited} s"
                raise AssertionError(
                    f"{regex.pattern!r} {state}; the screen since the last match:\n"
                    f"{self.text[self.position :][-4000:]}"
                )
            self._pump(0.05)

    def unread(self) -> str:
        """Text shown since the last match (after reading what is available now)."""
        self._pump(0.05)
        return self.text[self.position :]

    # ----- typing ---------------------------------------------------------------------

    def line(self, text: str) -> None:
        """Type ``text`` and Enter."""
        self.child.sendline(text)

    def interrupt(self) -> None:
        """Press Ctrl-C."""
        self.child.sendintr()

    def interrupt_until(self, pattern: str, *, tries: int = 4, wait: float = 5.0) -> str:
        """Press Ctrl-C until ``pattern`` shows; the text up to it.

        A Ctrl-C that lands in the instant between two reads of the terminal can go
        unnoticed (CPython's readline checks for signals before it waits for a key, not
        while it starts to wait); a user presses again, and so does this.
        """
        for attempt in range(tries):
            self.interrupt()
            try:
                return self.expect(pattern, timeout=wait if attempt < tries - 1 else None)
            except AssertionError:
                if self.ended or attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")

    def end_of_input(self) -> None:
        """Press Ctrl-D."""
        self.child.sendeof()

    def exit_status(self, timeout: float = 15) -> int:
        """Wait for the process to end; its exit status."""
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            self._pump(0.1)
        assert self.ended, f"the chat did not exit; screen:\n{self.text[-3000:]}"
        self.child.close()
        status = self.child.exitstatus
        assert status is not None, f"the chat was killed by signal {self.child.signalstatus}"
        return status

    def close(self) -> None:
        """Kill the process if a test left it running."""
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()

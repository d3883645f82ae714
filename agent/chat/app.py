"""The chat loop: read a line, run a command or ask the agent, show what happened.

Runs in the main thread with a blocking line reader (``input()``, with readline editing
when the terminal has it). Each question is streamed from the agent running on the
:class:`~agent.chat.background_loop.BackgroundLoop`; Ctrl-C while it runs cancels that
question only. Failures of the FHIR server or the model end the question with a message
saying which part failed; the chat goes on and the next question tries again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from agent.chat import views
from agent.chat.background_loop import BackgroundLoop
from agent.chat.commands import Command, UnknownCommand, parse_command
from agent.chat.conversation import ChatTurn, Conversation
from agent.chat.progress import AnswerProgress, summary_line
from agent.chat.services import ChatServices
from agent.chat.terminal import typeahead_hidden
from agent.chat.transcript import (
    ExportError,
    TranscriptHeader,
    default_export_name,
    render_transcript,
    write,
)
from tools.fhir import FHIRError
from tools.patients import PatientChoice, PatientLookupError

__all__ = ["ChatApp", "LineReader"]

#: Reads one line after showing a prompt; raises EOFError (Ctrl-D) or KeyboardInterrupt.
LineReader = Callable[[str], str]


class ChatApp:
    """An interactive conversation about one patient at a time."""

    def __init__(
        self,
        *,
        console: Console,
        loop: BackgroundLoop,
        services: ChatServices,
        model_label: str,
        as_of: date | None = None,
        read_line: LineReader = input,
    ) -> None:
        """Wire the chat to an open agent.

        Args:
            console: Where everything is shown.
            loop: The loop the agent runs on.
            services: FHIR client, model and conversation store, already open.
            model_label: The model as the banner and transcripts name it.
            as_of: Reference date of conversations (None: today).
            read_line: The line reader (``input`` in a terminal).
        """
        self.console = console
        self.loop = loop
        self.services = services
        self.model_label = model_label
        self.as_of = as_of
        self.read_line = read_line
        self.conversation: Conversation | None = None
        self._interrupted = False

    # ----- the loop -------------------------------------------------------------------

    def run(self, patient: str | None = None) -> int:
        """Greet, choose the patient, then answer until the user leaves; the exit code."""
        self.console.print(views.banner(self.model_label, self.services.fhir_label))
        if not self._choose_first_patient(patient):
            self.console.print("bye")
            return 0
        self.console.print(Text("Ask a question, or /help for commands.", style="dim"))
        while True:
            line = self._prompt_line()
            if line is None:
                break
            if not line.strip():
                continue
            try:
                command = parse_command(line)
            except UnknownCommand as exc:
                self._warn(str(exc))
                continue
            try:
                if command is None:
                    self.ask(line.strip())
                elif not self.run_command(command):
                    break
            except KeyboardInterrupt:
                # Questions handle their own Ctrl-C; this one hit a command or the screen.
                self._note("stopped")
        self.console.print("bye")
        return 0

    def _prompt_line(self) -> str | None:
        """The next line; None when the user leaves (Ctrl-D, or Ctrl-C twice)."""
        conversation = self._current()
        prompt = f"{conversation.patient.name} › "
        while True:
            try:
                line = self.read_line(prompt)
            except EOFError:
                self.console.print()
                return None
            except KeyboardInterrupt:
                self.console.print()
                if self._interrupted:
                    return None
                self._interrupted = True
                self._note("(Ctrl-C again to leave, or keep typing; /help for commands)")
                continue
            self._interrupted = False
            return line

    def _ask_line(self, prompt: str) -> str | None:
        """A line for a sub-question (patient choice); None on Ctrl-C or Ctrl-D."""
        try:
            return self.read_line(prompt)
        except (EOFError, KeyboardInterrupt):
            self.console.print()
            return None

    # ----- questions ------------------------------------------------------------------

    def ask(self, question: str) -> ChatTurn:
        """Stream the answer to ``question``; Ctrl-C stops it and the chat goes on."""
        conversation = self._current()
        turn = conversation.begin(question)
        progress = AnswerProgress(conversation)
        events = self.loop.iterate(conversation.session.stream(question))
        try:
            with (
                contextlib.closing(events),
                typeahead_hidden(),
                Live(progress, console=self.console, transient=True, refresh_per_second=12),
            ):
                for item in events:
                    conversation.record(turn, item)
                    progress.feed(item)
        except KeyboardInterrupt:
            conversation.stop(turn)
            self.console.print(Text("■ ", style="bold yellow") + summary_line(turn))
            self.console.print()
            return turn
        if turn.status == "answered":
            self.console.print(views.answer_view(conversation, turn))
        elif turn.status == "failed":
            self.console.print(Text(f"✗ {turn.failure}", style="bold red"))
            self._note(_after_failure(turn.failure_kind))
            self.console.print(summary_line(turn))
        else:
            # The stream ended without a final event: an agent bug, said as such.
            conversation.stop(turn)
            self._warn("the agent stopped without an answer")
        self.console.print()
        return turn

    # ----- commands -------------------------------------------------------------------

    def run_command(self, command: Command) -> bool:
        """Run one command; False when the chat should end."""
        handlers: dict[str, Callable[[str], bool | None]] = {
            "help": lambda _: self.console.print(views.help_view()),
            "patient": self._cmd_patient,
            "as-of": self._cmd_as_of,
            "reset": self._cmd_reset,
            "sources": lambda _: self.console.print(views.sources_view(self._current())),
            "evidence": self._cmd_evidence,
            "steps": self._cmd_steps,
            "export": self._cmd_export,
            "quit": lambda _: False,
        }
        return handlers[command.name](command.argument) is not False

    def _cmd_patient(self, argument: str) -> None:
        if not argument:
            conversation = self._current()
            self.console.print(
                views.patient_line(
                    conversation.patient, conversation.session.as_of, title="this conversation"
                )
            )
            return
        patient = self._pick_patient(argument)
        if patient is not None:
            self._open(patient)

    def _cmd_as_of(self, argument: str) -> None:
        conversation = self._current()
        if not argument:
            self.console.print(Text(f"as of {conversation.session.as_of.isoformat()}"))
            return
        if argument.lower() == "today":
            self.as_of = None
        else:
            try:
                self.as_of = date.fromisoformat(argument)
            except ValueError:
                self._warn(f"/as-of takes a date YYYY-MM-DD or 'today', not {argument!r}")
                return
        self._open(conversation.patient)

    def _cmd_reset(self, argument: str) -> None:
        self._open(self._current().patient)

    def _cmd_evidence(self, argument: str) -> None:
        conversation = self._current()
        if not argument:
            self._warn("usage: /evidence N, /evidence HANDLE or /evidence Type/id")
            return
        ref = conversation.resolve(argument)
        if ref is None:
            if argument.strip("[]").isdigit():
                count = len(conversation.numbers)
                known = f"1 to {count}" if count else "none yet"
                self._warn(f"no citation [{argument.strip('[]')}] (citations: {known})")
            else:
                self._warn(f"{argument} was not retrieved in this conversation (see /sources)")
            return
        self.console.print(views.evidence_view(conversation, ref))

    def _cmd_steps(self, argument: str) -> None:
        turns = self._current().turns
        if not turns:
            self._note("no questions yet")
            return
        if not argument:
            self.console.print(views.steps_view(turns[-1]))
        elif argument.isdigit() and 1 <= int(argument) <= len(turns):
            self.console.print(views.steps_view(turns[int(argument) - 1]))
        else:
            self._warn(f"/steps takes a question number from 1 to {len(turns)}")

    def _cmd_export(self, argument: str) -> None:
        conversation = self._current()
        if not conversation.turns:
            self._note("nothing to export yet: ask a question first")
            return
        now = datetime.now().astimezone()
        path = Path(argument).expanduser() if argument else Path(default_export_name(now))
        header = TranscriptHeader(
            model=self.model_label,
            fhir=self.services.fhir_label,
            as_of=conversation.session.as_of,
            exported_at=now,
        )
        try:
            write(path, render_transcript(conversation, header))
        except ExportError as exc:
            self._warn(str(exc))
            return
        count = len(conversation.turns)
        self.console.print(
            Text(f"wrote {path} ({count} question{'s' if count != 1 else ''})", style="green")
        )

    # ----- patients and conversations -------------------------------------------------

    def _choose_first_patient(self, text: str | None) -> bool:
        while True:
            if not text:
                text = self._ask_line("Patient (id or name; Enter to quit): ")
                if text is None or not text.strip():
                    return False
            patient = self._pick_patient(text)
            if patient is not None:
                self._open(patient)
                return True
            text = None

    def _pick_patient(self, text: str) -> PatientChoice | None:
        """The patient ``text`` names, asking the user to choose among several."""
        try:
            with self.console.status("looking up the patient…"):
                return self.loop.call(self.services.find_patient(text))
        except KeyboardInterrupt:
            self._note("stopped")
            return None
        except FHIRError as exc:
            self._warn(f"the FHIR server failed: {exc}")
            return None
        except PatientLookupError as exc:
            if not exc.candidates:
                self._warn(str(exc))
                return None
            return self._choose(text, exc.candidates)

    def _choose(self, text: str, candidates: list[PatientChoice]) -> PatientChoice | None:
        self.console.print(Text(f"{len(candidates)} patients match {text!r}:"))
        self.console.print(views.candidates_view(candidates))
        while True:
            answer = self._ask_line(
                f"Choose 1-{len(candidates)}, or type another id or name (Enter to cancel): "
            )
            if answer is None or not answer.strip():
                return None
            choice = answer.strip()
            if not choice.isdigit():
                return self._pick_patient(choice)
            if 1 <= int(choice) <= len(candidates):
                return candidates[int(choice) - 1]
            self._warn(f"choose a number from 1 to {len(candidates)}")

    def _open(self, patient: PatientChoice) -> None:
        """Start a new conversation about ``patient`` at the current reference date."""
        session = self.loop.call(self.services.new_session(patient.id, self.as_of))
        self.conversation = Conversation(session, patient)
        self.console.print(views.patient_line(patient, session.as_of))

    def _current(self) -> Conversation:
        if self.conversation is None:
            raise RuntimeError("no conversation is open")
        return self.conversation

    # ----- messages -------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        self.console.print(Text(message, style="yellow"))

    def _note(self, message: RenderableType) -> None:
        self.console.print(Text(message, style="dim") if isinstance(message, str) else message)


def _after_failure(kind: str) -> str:
    """What the user can do after a question failed, by the failure's class name."""
    if kind.endswith("Unavailable"):
        return "The conversation goes on: ask again once it is back."
    if kind == "LLMOutputError":
        return "The model's reply could not be used; asking again (or rephrasing) may work."
    return "The conversation goes on."

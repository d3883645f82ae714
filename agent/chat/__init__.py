"""``ehr-agent chat``: the terminal chat for clinicians and developers.

One patient at a time, questions in plain language, answers streamed with numbered
citations that can be opened (``/sources``, ``/evidence``), conversations exported as
Markdown (``/export``). The chat drives the agent through
:class:`agent.session.AgentSession` like every other front end.

Modules: ``launch`` (the command), ``app`` (the read-answer loop), ``background_loop``
(the agent's event loop in a worker thread, with Ctrl-C cancelling one question),
``services`` (connections shared by the conversations), ``conversation`` (what the chat
remembers of one), ``citation_numbers``, ``progress`` (the live region), ``views``,
``commands``, ``transcript`` (the export), ``terminal`` (echo off while streaming),
``wording``.
"""

from agent.chat.app import ChatApp, LineReader
from agent.chat.background_loop import BackgroundLoop, LoopClosed
from agent.chat.citation_numbers import CitationNumbers, cited_in_order
from agent.chat.commands import COMMANDS, Command, UnknownCommand, parse_command
from agent.chat.conversation import ChatTurn, Conversation, ToolOutput
from agent.chat.launch import chat_command
from agent.chat.services import ChatServices, open_services
from agent.chat.transcript import ExportError, TranscriptHeader, render_transcript

__all__ = [
    "COMMANDS",
    "BackgroundLoop",
    "ChatApp",
    "ChatServices",
    "ChatTurn",
    "CitationNumbers",
    "Command",
    "Conversation",
    "ExportError",
    "LineReader",
    "LoopClosed",
    "ToolOutput",
    "TranscriptHeader",
    "UnknownCommand",
    "chat_command",
    "cited_in_order",
    "open_services",
    "parse_command",
    "render_transcript",
]

from __future__ import annotations

import pytest

from agent.chat.commands import COMMANDS, Command, UnknownCommand, parse_command


def test_a_line_without_a_slash_is_a_question() -> None:
    assert parse_command("Has her HbA1c improved since 2019/2020?") is None
    assert parse_command("   ") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/evidence 3", Command("evidence", "3")),
        ("  /EXPORT   my notes.md  ", Command("export", "my notes.md")),
        ("/patient Sylvia Monahan", Command("patient", "Sylvia Monahan")),
        ("/as-of 2012-01-01", Command("as-of", "2012-01-01")),
        ("/asof today", Command("as-of", "today")),
        ("/exit", Command("quit", "")),
        ("/?", Command("help", "")),
    ],
)
def test_commands_are_parsed_with_their_argument(line: str, expected: Command) -> None:
    assert parse_command(line) == expected


def test_an_unknown_command_suggests_the_closest_one() -> None:
    with pytest.raises(UnknownCommand, match=r"unknown command /sorces; did you mean /sources\?"):
        parse_command("/sorces")
    with pytest.raises(UnknownCommand) as caught:
        parse_command("/frobnicate now")
    assert caught.value.suggestion is None
    assert "did you mean" not in str(caught.value)


def test_every_command_has_a_usage_starting_with_its_name() -> None:
    for name, spec in COMMANDS.items():
        assert spec.usage.split()[0] == f"/{name}"
        assert parse_command(spec.usage.split()[0]) == Command(name, "")

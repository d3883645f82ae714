from __future__ import annotations

import base64

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agent.llm.openai_messages import folds_system_prompt, image_part, to_openai_messages

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_gemma_models_fold_the_system_prompt_and_others_do_not() -> None:
    assert folds_system_prompt("google/medgemma-27b-it")
    assert folds_system_prompt("gemma-3-4b-it")
    assert not folds_system_prompt("qwen2.5-1.5b")


def test_fold_puts_the_system_text_before_the_first_user_turn_like_gemmas_template() -> None:
    wire = to_openai_messages(
        [SystemMessage("You answer from the record."), HumanMessage("Her last HbA1c?")],
        vision=False,
        fold_system=True,
    )
    # Gemma's chat template renders system + "\n\n" + first user message.
    assert wire.messages == [
        {"role": "user", "content": "You answer from the record.\n\nHer last HbA1c?"}
    ]


def test_fold_keeps_strict_alternation_by_merging_turns_and_turning_tool_results_into_text() -> (
    None
):
    wire = to_openai_messages(
        [
            SystemMessage("sys"),
            HumanMessage("q1"),
            HumanMessage("also this"),
            AIMessage("", tool_calls=[{"name": "labs", "args": {"code": "4548-4"}, "id": "c1"}]),
            ToolMessage("HbA1c 6.9 %", tool_call_id="c1", name="labs"),
            SystemMessage("late system note"),
        ],
        vision=False,
        fold_system=True,
    )
    roles = [m["role"] for m in wire.messages]
    assert roles == ["user", "assistant", "user"]
    assert wire.messages[0]["content"] == "sys\n\nlate system note\n\nq1\n\nalso this"
    assert wire.messages[1]["content"] == 'Calling tool labs with {"code": "4548-4"}'
    assert wire.messages[2]["content"] == "Result of tool labs:\nHbA1c 6.9 %"


def test_native_mode_keeps_roles_and_openai_tool_calls() -> None:
    wire = to_openai_messages(
        [
            SystemMessage("sys"),
            HumanMessage("q"),
            AIMessage("", tool_calls=[{"name": "labs", "args": {"n": 1}, "id": "c1"}]),
            ToolMessage("result", tool_call_id="c1"),
        ],
        vision=False,
        fold_system=False,
    )
    assert wire.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "labs", "arguments": '{"n": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "result"},
    ]


def test_images_become_data_url_parts_when_the_backend_has_vision() -> None:
    message = HumanMessage(content=[{"type": "text", "text": "Read this film."}, image_part(PNG)])
    wire = to_openai_messages([message], vision=True, fold_system=False)
    parts = wire.messages[0]["content"]
    assert parts[0] == {"type": "text", "text": "Read this film."}
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG
    assert (wire.images_sent, wire.images_dropped) == (1, 0)


def test_images_are_dropped_with_a_note_when_the_backend_has_no_vision() -> None:
    standard_block = {"type": "image", "base64": "aGk=", "mime_type": "image/png"}
    message = HumanMessage(
        content=[{"type": "text", "text": "Read these."}, image_part(PNG), standard_block]
    )
    wire = to_openai_messages([message], vision=False, fold_system=False)
    content = wire.messages[0]["content"]
    assert isinstance(content, str)
    assert "base64" not in content
    assert content.startswith("Read these.\n[2 image(s) omitted")
    assert (wire.images_sent, wire.images_dropped) == (0, 2)


def test_langchain_standard_image_blocks_are_sent_as_image_url_parts() -> None:
    blocks = [
        {"type": "image", "source_type": "base64", "data": "aGk=", "mime_type": "image/jpeg"},
        {"type": "image", "url": "https://example.org/x.png"},
    ]
    wire = to_openai_messages([HumanMessage(content=blocks)], vision=True, fold_system=False)
    urls = [part["image_url"]["url"] for part in wire.messages[0]["content"]]
    assert urls == ["data:image/jpeg;base64,aGk=", "https://example.org/x.png"]

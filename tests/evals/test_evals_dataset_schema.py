"""The item schema: validation rules and the JSONL round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from evals.dataset import SCHEMA_VERSION, DatasetError, QAItem, dump_item, read_items, write_items


def _raw(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "abc",
        "patient_id": "p1",
        "category": "medications",
        "template_id": "med.class_ever",
        "phrasing_id": 1,
        "question": "Has the patient ever been prescribed a statin?",
        "answer_type": "yes_no",
        "gold": "no",
        "as_of": "2020-01-31",
        "evidence_ids": ["Patient/p1"],
        "params": {"op": "exists_class"},
    }
    base.update(overrides)
    return base


def test_round_trip_is_canonical(tmp_path: Path) -> None:
    items = [QAItem.model_validate(_raw()), QAItem.model_validate(_raw(id="def", gold="yes"))]
    path = tmp_path / "sub" / "d.jsonl"
    write_items(items, path)
    assert read_items(path) == items
    line = path.read_text().splitlines()[0]
    assert line == dump_item(items[0])
    assert line.startswith('{"answer_type":"yes_no","as_of":"2020-01-31"')
    assert f'"schema_version":{SCHEMA_VERSION}' in line


@pytest.mark.parametrize(
    "overrides",
    [
        {"answer_type": "number", "gold": 3.0},  # no unit, no tolerance
        {"answer_type": "choice", "gold": "x", "choices": ["a", "b"]},
        {"gold": "maybe"},
        {"answer_type": "set", "gold": "a"},
        {"answer_type": "date", "gold": "2020-01-01"},  # no precision
        {"evidence_ids": []},
        {"schema_version": SCHEMA_VERSION + 1},
        {"answer_type": "essay"},
        {"unknown_field": 1},
    ],
)
def test_invalid_items_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        QAItem.model_validate(_raw(**overrides))


def test_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(dump_item(QAItem.model_validate(_raw())) + "\n{not json}\n")
    with pytest.raises(DatasetError, match=r"d\.jsonl:2"):
        read_items(path)
    with pytest.raises(DatasetError, match="cannot read"):
        read_items(tmp_path / "missing.jsonl")


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("old\n")
    good = QAItem.model_validate(_raw())

    class Boom(QAItem):  # a real item whose serialization fails half-way through the file
        def model_dump(self, **kwargs: Any) -> dict[str, Any]:
            raise OSError("disk full")

    class Bug(QAItem):
        def model_dump(self, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("bug")

    with pytest.raises(DatasetError, match="disk full"):
        write_items([good, Boom.model_validate(_raw(id="zzz"))], path)
    with pytest.raises(RuntimeError, match="bug"):
        write_items([good, Bug.model_validate(_raw(id="zzz"))], path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.jsonl"]

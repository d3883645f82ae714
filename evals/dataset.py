"""The EHR QA benchmark item: a versioned pydantic schema and its JSONL reading and writing.

One item is one question about one patient, asked as of a date, with a gold answer and the
resources that prove it. The file format is JSON Lines, one item a line, keys sorted, so the
same dataset always serializes to the same bytes.

Absence questions ("Has the patient ever been prescribed a statin?" - no) are proven by the
patient's whole record, which has no single resource to point at; by convention their
``evidence_ids`` is exactly ``["Patient/<id>"]``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ANSWER_TYPES",
    "SCHEMA_VERSION",
    "AnswerType",
    "DatasetError",
    "DatePrecision",
    "QAItem",
    "RetrievalHint",
    "dump_item",
    "read_items",
    "write_items",
]

SCHEMA_VERSION = 1
"""Bumped whenever a field changes meaning or a required field is added."""

AnswerType = Literal["yes_no", "number", "date", "choice", "set", "text"]
ANSWER_TYPES: tuple[AnswerType, ...] = ("yes_no", "number", "date", "choice", "set", "text")
DatePrecision = Literal["day", "month", "year"]


class DatasetError(Exception):
    """A dataset file cannot be read or written (names the file and line)."""


class RetrievalHint(BaseModel):
    """What a system would need to look up to answer (one FHIR search, roughly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_type: str = Field(description="FHIR resource type to search, e.g. Observation.")
    code: str | None = Field(
        default=None, description="Token 'system|code' of the concept asked about, if any."
    )
    date_from: date | None = Field(default=None, description="Inclusive start of the date range.")
    date_to: date | None = Field(default=None, description="Inclusive end of the date range.")


class QAItem(BaseModel):
    """One benchmark question about one patient, with its gold answer and evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(default=SCHEMA_VERSION, description="Schema of this item.")
    id: str = Field(description="Stable id: hash of patient, template, parameters and as-of date.")
    patient_id: str = Field(description="FHIR logical id of the Patient (resource.id).")
    category: str = Field(description="Question category, e.g. 'lab_results'.")
    template_id: str = Field(description="Template the question was generated from.")
    phrasing_id: int = Field(ge=0, description="Which of the template's phrasings was used.")
    question: str = Field(description="The question as asked.")
    answer_type: AnswerType
    gold: Any = Field(
        description=(
            "Gold answer: 'yes'|'no' for yes_no, a float for number, an ISO date string for "
            "date (YYYY, YYYY-MM or YYYY-MM-DD per precision), the correct choice text for "
            "choice, a sorted list of strings for set, a string for text."
        )
    )
    unit: str | None = Field(default=None, description="UCUM unit of a number answer.")
    tolerance: float | None = Field(
        default=None, ge=0, description="Absolute tolerance of a number answer, in its unit."
    )
    choices: list[str] | None = Field(default=None, description="Options of a choice question.")
    precision: DatePrecision | None = Field(
        default=None, description="Precision a date answer is judged at."
    )
    as_of: date = Field(description="Only records on or before this day count.")
    evidence_ids: list[str] = Field(
        description="'Type/id' of the resources proving the answer; ['Patient/<id>'] for absence."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Template parameters; 'op' names the operation that defines the answer.",
    )
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    retrieval_hint: RetrievalHint | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> QAItem:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})"
            )
        if self.answer_type == "number" and (self.unit is None or self.tolerance is None):
            raise ValueError("a number item needs unit and tolerance")
        if self.answer_type == "choice" and (not self.choices or self.gold not in self.choices):
            raise ValueError("a choice item needs choices that include the gold answer")
        if self.answer_type == "yes_no" and self.gold not in ("yes", "no"):
            raise ValueError("a yes_no gold answer is 'yes' or 'no'")
        if self.answer_type == "set" and not isinstance(self.gold, list):
            raise ValueError("a set gold answer is a list")
        if self.answer_type == "date" and self.precision is None:
            raise ValueError("a date item needs a precision")
        if not self.evidence_ids:
            raise ValueError("an item needs at least one evidence id")
        return self


def dump_item(item: QAItem) -> str:
    """One item as a canonical JSON line (sorted keys, no trailing newline)."""
    return json.dumps(
        item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def write_items(items: Sequence[QAItem], path: Path) -> None:
    """Write items as JSONL atomically: the file is complete or untouched.

    Args:
        items: Items in the order they should appear.
        path: Destination file; its folder is created if missing.

    Raises:
        DatasetError: The file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for item in items:
                handle.write(dump_item(item) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise DatasetError(f"cannot write {path}: {exc}") from exc
    finally:
        # Gone after a successful replace; removes the partial file after any failure.
        Path(tmp).unlink(missing_ok=True)


def read_items(path: Path) -> list[QAItem]:
    """Read a JSONL dataset.

    Raises:
        DatasetError: The file is missing, or a line is not a valid item (names the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    return list(_parse_lines(lines, path))


def _parse_lines(lines: Iterable[str], path: Path) -> Iterable[QAItem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield QAItem.model_validate_json(line)
        except ValidationError as exc:
            raise DatasetError(f"{path}:{number}: not a valid item: {exc}") from exc

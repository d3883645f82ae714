"""Argument models of the evidence tools. Field descriptions are prompt text: keep them short."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.records import CLINICAL_TYPES, ClinicalType

__all__ = [
    "SEARCHABLE_TYPES",
    "ImagesArgs",
    "ObservationSeriesArgs",
    "OverviewArgs",
    "ReadArgs",
    "SearchArgs",
    "TimelineArgs",
    "ViewImageArgs",
]

#: The search tool takes every type the tools read (the record index covers the same ones).
SearchableType = ClinicalType
SEARCHABLE_TYPES: tuple[str, ...] = CLINICAL_TYPES


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverviewArgs(_Args):
    """No arguments: the overview covers the whole record."""


class SearchArgs(_Args):
    """Find resources of one type in the patient's record."""

    type: SearchableType = Field(description="Resource type to search.")
    concept: str | None = Field(
        None, description="What to look for: words (e.g. 'statin', 'A1c') or a code."
    )
    date_from: date | None = Field(None, description="Earliest date, YYYY-MM-DD.")
    date_to: date | None = Field(None, description="Latest date, YYYY-MM-DD.")
    status: str | None = Field(
        None, description="Status, e.g. active, resolved, completed, stopped."
    )
    category: str | None = Field(
        None, description="Observation category: vital-signs, laboratory, survey."
    )
    sort: Literal["newest", "oldest"] = Field("newest", description="Order by date.")
    limit: int = Field(20, ge=1, le=200, description="Maximum rows.")


class ObservationSeriesArgs(_Args):
    """Values of one measurement over time, with statistics."""

    concept: str = Field(description="Measurement in words or as a LOINC code, e.g. 'HbA1c'.")
    date_from: date | None = Field(None, description="Earliest date, YYYY-MM-DD.")
    date_to: date | None = Field(None, description="Latest date, YYYY-MM-DD.")


class ReadArgs(_Args):
    """One resource in full (condensed)."""

    ref: str = Field(description="Citation handle (e.g. O12) or Type/id.")


class TimelineArgs(_Args):
    """Encounters in a date range with what was recorded at each."""

    date_from: date | None = Field(None, description="Earliest date, YYYY-MM-DD.")
    date_to: date | None = Field(None, description="Latest date, YYYY-MM-DD.")
    limit: int = Field(10, ge=1, le=50, description="Maximum encounters (newest first).")


class ImagesArgs(_Args):
    """Images linked to the record."""


class ViewImageArgs(_Args):
    """Look at one image."""

    ref: str = Field(description="Handle or Type/id of a Media, DiagnosticReport or study.")

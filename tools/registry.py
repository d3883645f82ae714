"""Every evidence tool, by name: what the planner offers and the session runs."""

from __future__ import annotations

from tools.evidence.args import (
    ImagesArgs,
    ObservationSeriesArgs,
    OverviewArgs,
    ReadArgs,
    SearchArgs,
    TimelineArgs,
    ViewImageArgs,
)
from tools.evidence.base import ToolSpec
from tools.evidence.images import run_images, run_view_image
from tools.evidence.observation_series import run_observation_series
from tools.evidence.overview import run_overview
from tools.evidence.read import run_read
from tools.evidence.search import run_search
from tools.evidence.timeline import run_timeline

__all__ = ["TOOLS", "tools_for"]

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "record_overview",
            "Demographics and what the record holds: counts, dates, conditions, concepts.",
            OverviewArgs,
            run_overview,
        ),
        ToolSpec(
            "search",
            "Find resources of one type by concept, dates, status or category.",
            SearchArgs,
            run_search,
        ),
        ToolSpec(
            "observation_series",
            "Values of one measurement over time with n, first, last, min, max, mean, trend.",
            ObservationSeriesArgs,
            run_observation_series,
        ),
        ToolSpec("read", "One resource in detail, by citation handle.", ReadArgs, run_read),
        ToolSpec(
            "timeline",
            "Visits in a date range with what was recorded at each.",
            TimelineArgs,
            run_timeline,
        ),
        ToolSpec("images", "Images and imaging studies in the record.", ImagesArgs, run_images),
        ToolSpec(
            "view_image",
            "Look at one image (vision models only).",
            ViewImageArgs,
            run_view_image,
            needs_vision=True,
        ),
    )
}


def tools_for(*, vision: bool) -> dict[str, ToolSpec]:
    """The tools a model may call: image viewing only for models that can see."""
    return {name: spec for name, spec in TOOLS.items() if vision or not spec.needs_vision}

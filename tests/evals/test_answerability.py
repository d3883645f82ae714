"""Every benchmark template is answerable: its gold evidence is reachable through the tools.

For one item per template (built from the 41 shared bundles), the evidence tools are run
over real HTTP the way a competent planner would, with the item's ``retrieval_hint``
(resource type, code, date range) and the item's as-of day: ``record_overview`` for
demographics, ``search`` by type and code, ``observation_series`` for measurements,
``read`` of the reports found. The union of ``Type/id`` the tools surfaced (their
citations and records) must cover the item's ``evidence_ids``; otherwise no agent could
cite what proves the answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from fhir_ground_truth import RawSynthea

from evals.builder import CATEGORIES, BuildResult
from evals.dataset import QAItem
from fhir_fixtures.server import BackgroundServer
from tools.evidence.base import ToolResult
from tools.fhir import FHIRClient
from tools.session import EvidenceSession

BIG = 100_000
#: Element holding each type's concept (read from the raw resource, not from the tools).
CONCEPT_FIELD = {
    "Observation": "code",
    "Condition": "code",
    "Procedure": "code",
    "DiagnosticReport": "code",
    "AllergyIntolerance": "code",
    "MedicationRequest": "medicationCodeableConcept",
    "Immunization": "vaccineCode",
    "Encounter": "type",
    "ImagingStudy": "procedureCode",
}  # an output budget large enough that nothing is cut


def one_per_template(build: BuildResult) -> dict[str, list[QAItem]]:
    """Per category, the first item (by id) of each of its templates."""
    firsts: dict[str, QAItem] = {}
    for item in sorted(build.items, key=lambda i: i.id):
        firsts.setdefault(item.template_id, item)
    by_category: dict[str, list[QAItem]] = defaultdict(list)
    for item in firsts.values():
        by_category[item.category].append(item)
    return by_category


def surfaced(result: ToolResult) -> set[str]:
    return {*result.citations, *(r.ref for r in result.records)}


def evidence_searches(item: QAItem, raw: RawSynthea) -> list[tuple[str, str | None]]:
    """(type, code token) of each evidence resource of a type the hint does not search."""
    hint_type = item.retrieval_hint.resource_type if item.retrieval_hint else None
    out: list[tuple[str, str | None]] = []
    for ref in item.evidence_ids:
        rt, rid = ref.split("/", 1)
        if rt in ("Patient", hint_type):
            continue
        concept = raw.resources[(rt, rid)].get(CONCEPT_FIELD[rt]) or {}
        codings = concept.get("coding") or [] if isinstance(concept, dict) else []
        code = f"{codings[0]['system']}|{codings[0]['code']}" if codings else None
        if (rt, code) not in out:
            out.append((rt, code))
    return out


async def tools_surface(session: EvidenceSession, item: QAItem, raw: RawSynthea) -> set[str]:
    """``Type/id`` of everything the tools show for the item's hint and evidence types."""
    hint = item.retrieval_hint
    assert hint is not None, item.id
    found: set[str] = set()
    if hint.resource_type == "Patient":
        result = await session.run("record_overview", {})
        assert result.error is None, result.error
        return surfaced(result)
    args: dict[str, object] = {"type": hint.resource_type, "limit": 200}
    if hint.code:
        args["concept"] = hint.code
    if hint.date_from:
        args["date_from"] = hint.date_from.isoformat()
    if hint.date_to:
        args["date_to"] = hint.date_to.isoformat()
    calls: list[tuple[str, dict[str, object]]] = [("search", args)]
    if hint.resource_type == "Observation" and hint.code:
        series_args = {k: v for k, v in args.items() if k in ("date_from", "date_to")}
        calls.append(("observation_series", {"concept": hint.code, **series_args}))
    # evidence of other types (the medication behind "since insulin", the condition a care
    # plan addresses): searched by their type and code, up to the as-of day
    for rt, code in evidence_searches(item, raw):
        calls.append(("search", {"type": rt, "limit": 200, **({"concept": code} if code else {})}))
    for tool, tool_args in calls:
        result = await session.run(tool, tool_args)
        assert result.error is None, (item.template_id, tool, result.error)
        assert result.truncated == 0, (item.template_id, tool, result.text[-200:])
        found |= surfaced(result)
    for ref in sorted(r for r in found if r.startswith("DiagnosticReport/")):
        report = await session.run("read", {"ref": ref})
        found |= surfaced(report)
    return found


@pytest.fixture
async def client(loaded_fhir_server: BackgroundServer) -> AsyncIterator[FHIRClient]:
    async with FHIRClient(loaded_fhir_server.base_url, max_retries=0) as c:
        yield c


@pytest.mark.parametrize(
    "category",
    sorted(CATEGORIES),
)
async def test_gold_evidence_is_retrievable_with_the_tools(
    client: FHIRClient, default_build: BuildResult, raw_synthea: RawSynthea, category: str
) -> None:
    items = one_per_template(default_build)[category]
    assert len(items) >= 3, f"{category}: only {len(items)} templates"
    missing: dict[str, list[str]] = {}
    for item in items:
        session = EvidenceSession(client, item.patient_id, as_of=item.as_of, output_tokens=BIG)
        found = await tools_surface(session, item, raw_synthea)
        gap = sorted(set(item.evidence_ids) - found)
        if gap:
            missing[item.template_id] = gap
    assert not missing, f"{category}: evidence not surfaced by the tools: {missing}"

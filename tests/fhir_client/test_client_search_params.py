"""Search parameters: the immutable builder and what actually goes on the wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fhir_client_fakes import Script, fhir_response

from tools.fhir import FHIRBadRequest, FHIRClient, SearchParams, escape, token

Make = Callable[..., FHIRClient]
EMPTY = {"resourceType": "Bundle", "type": "searchset", "total": 0}


def test_builder_returns_new_objects_and_keeps_order() -> None:
    base = SearchParams().where(patient="p1")
    hba1c = (
        base.where(code=token("4548-4", system="http://loinc.org"))
        .date(ge="2019-01-01", lt=date(2020, 1, 1))
        .sort("-date")
        .count(50)
    )
    assert base.pairs == (("patient", "p1"),)
    assert hba1c.pairs == (
        ("patient", "p1"),
        ("code", "http://loinc.org|4548-4"),
        ("date", "ge2019-01-01"),
        ("date", "lt2020-01-01"),
        ("_sort", "-date"),
        ("_count", "50"),
    )
    with pytest.raises(AttributeError):
        hba1c.pairs = ()  # type: ignore[misc]


def test_replacing_setters_and_helpers() -> None:
    params = (
        SearchParams()
        .count(10)
        .count(20)
        .sort("date")
        .sort("-date", "code")
        .where(code__text="glucose", status=["final", "amended"])
        .any_of("category", "laboratory", "vital-signs")
        .include("Observation:performer")
        .revinclude("Provenance:target", iterate=True)
        .elements("id", "code")
        .summary("count")
        .total("accurate")
        .add("value-quantity", Decimal("5.40"))
        .add("_has:Observation:patient:code", "1234-5")
    )
    assert params.get("_count") == ["20"]
    assert params.get("_sort") == ["-date,code"]
    assert params.get("code:text") == ["glucose"]
    assert params.get("status") == ["final", "amended"]
    assert params.get("category") == ["laboratory,vital-signs"]
    assert params.get("_revinclude:iterate") == ["Provenance:target"]
    assert params.get("value-quantity") == ["5.40"]
    assert len(params.without("status")) == len(params) - 2


def test_values_are_written_the_fhir_way() -> None:
    moment = datetime(2019, 5, 1, 12, 30, tzinfo=UTC)
    params = SearchParams().add("active", True).add("date", moment).add("n", 3)
    assert params.pairs == (
        ("active", "true"),
        ("date", "2019-05-01T12:30:00+00:00"),
        ("n", "3"),
    )
    assert escape("a,b|c$d\\e") == "a\\,b\\|c\\$d\\\\e"
    assert token("x,y") == "x\\,y"


@pytest.mark.parametrize("name", ["", "a&b", "a=b", "a b", "#x", "?q"])
def test_names_that_would_break_the_query_are_refused(name: str) -> None:
    with pytest.raises(FHIRBadRequest, match="invalid FHIR search parameter name"):
        SearchParams().add(name, "x")


def test_none_is_not_a_value() -> None:
    with pytest.raises(TypeError, match="NoneType"):
        SearchParams().add("date", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        SearchParams().where(patient="p 1", code="http://loinc.org|4548-4").date(ge="2019"),
        {"patient": "p 1", "code": "http://loinc.org|4548-4", "date": ["ge2019"]},
        [("patient", "p 1"), ("code", "http://loinc.org|4548-4"), ("date", "ge2019")],
    ],
    ids=["builder", "mapping", "pairs"],
)
@pytest.mark.asyncio
async def test_every_form_sends_the_same_query(make_client: Make, params: object) -> None:
    script = Script(fhir_response(200, EMPTY))
    async with make_client(script) as client:
        await client.search("Observation", params)  # type: ignore[arg-type]
    (request,) = script.requests
    assert request.url.params.multi_items() == [
        ("patient", "p 1"),
        ("code", "http://loinc.org|4548-4"),
        ("date", "ge2019"),
    ]
    assert request.headers["Prefer"] == "handling=strict"
    assert request.headers["Accept"] == "application/fhir+json"


@pytest.mark.asyncio
async def test_strict_handling_can_be_turned_off(make_client: Make) -> None:
    script = Script(fhir_response(200, EMPTY))
    async with make_client(script, strict_search=False) as client:
        await client.search("Observation")
    assert "Prefer" not in script.requests[0].headers

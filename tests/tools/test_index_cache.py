"""The per-process record-index cache, against the embedded server over real HTTP."""

from __future__ import annotations

from datetime import date

import pytest
from fhir_ground_truth import RawSynthea

from fhir_fixtures.server import BackgroundServer
from tools import index_cache as index_cache_module
from tools.fhir import FHIRClient
from tools.fhir.auth import BearerToken
from tools.index_cache import CachedIndex, IndexCache, shared_index_cache
from tools.record_index import RecordIndex
from tools.session import EvidenceSession

AS_OF = date(2100, 1, 1)


def _busiest_patient(raw: RawSynthea) -> str:
    return max(raw.patients, key=lambda pid: len(raw.of(pid, "Observation")))


async def _index_and_requests(
    base_url: str, patient_id: str, cache: IndexCache | None, token: str | None = None
) -> tuple[RecordIndex, int, frozenset[str]]:
    auth = BearerToken(token) if token else None
    async with FHIRClient(base_url, auth=auth) as client:
        session = EvidenceSession(client, patient_id, as_of=AS_OF, index_cache=cache)
        before = client.stats.snapshot().requests
        index = await session.index()
        return index, client.stats.snapshot().requests - before, session.scope.closure()


async def test_second_session_reuses_the_index_without_requests(
    loaded_fhir_server: BackgroundServer, raw_synthea: RawSynthea
) -> None:
    patient = _busiest_patient(raw_synthea)
    cache = IndexCache(ttl_s=600)
    first, first_requests, first_closure = await _index_and_requests(
        loaded_fhir_server.base_url, patient, cache
    )
    second, second_requests, second_closure = await _index_and_requests(
        loaded_fhir_server.base_url, patient, cache
    )
    assert first_requests > 0
    assert second_requests == 0
    assert second is first
    # the references the searches admitted come with the index: the scope is the same
    assert second_closure == first_closure
    encounters = {
        r["encounter"]["reference"]
        for r in raw_synthea.of(patient, "Observation")
        if "encounter" in r
    }
    assert encounters
    assert encounters <= second_closure
    # and the index holds the patient's record (truth: the raw bundle)
    observations = [r for r in first.records if r.resource_type == "Observation"]
    assert len(observations) == len(raw_synthea.of(patient, "Observation"))


async def test_callers_and_patients_do_not_share_entries(
    loaded_fhir_server: BackgroundServer, raw_synthea: RawSynthea
) -> None:
    patient = _busiest_patient(raw_synthea)
    other = next(pid for pid in raw_synthea.patients if pid != patient)
    cache = IndexCache(ttl_s=600)
    url = loaded_fhir_server.base_url
    await _index_and_requests(url, patient, cache, token="token-of-app-a")
    _, same_token, _ = await _index_and_requests(url, patient, cache, token="token-of-app-a")
    _, other_token, _ = await _index_and_requests(url, patient, cache, token="token-of-app-b")
    _, other_patient, _ = await _index_and_requests(url, other, cache, token="token-of-app-a")
    assert same_token == 0
    assert other_token > 0
    assert other_patient > 0
    # keys carry a hash of the token, never the token
    assert not any("token-of-app" in part for key in cache._entries for part in key)


def test_entries_expire_and_the_least_recent_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(index_cache_module.time, "monotonic", lambda: now[0])
    cache = IndexCache(ttl_s=60, max_entries=2)
    value = CachedIndex(RecordIndex([]), frozenset())
    keys = [IndexCache.key("http://x", "none", f"p{i}", AS_OF) for i in range(3)]
    cache.put(keys[0], value)
    cache.put(keys[1], value)
    assert cache.get(keys[0]) is value  # p0 is now the most recent
    cache.put(keys[2], value)  # evicts p1
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is value
    now[0] += 61
    assert cache.get(keys[0]) is None
    assert len(cache) == 1  # p2 is still stored until asked for


def test_unknown_identity_and_zero_ttl_never_cache() -> None:
    assert IndexCache.key("http://x", None, "p", AS_OF) is None
    assert shared_index_cache(0) is None
    assert shared_index_cache(30) is shared_index_cache(30)

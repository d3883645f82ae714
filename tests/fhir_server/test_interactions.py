"""CRUD, bundles, validation, Binary, auth and errors on fresh servers over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_fixtures.server import BackgroundServer, create_app

FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(tmp_path / "fhir.sqlite") as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=FHIR, timeout=30) as http:
        yield http


def _patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "Okafor", "given": ["Ada"]}],
        "gender": "female",
        **extra,
    }


def _outcome(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


def test_create_read_update_versions_and_headers(
    client: httpx.Client, server: BackgroundServer
) -> None:
    created = client.post("/Patient", json=_patient(id="ignored"))
    assert created.status_code == 201
    body = created.json()
    pid = body["id"]
    assert pid != "ignored"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == f"{server.base_url}/Patient/{pid}/_history/1"

    head = client.head(f"/Patient/{pid}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == 'W/"1"'
    assert "last-modified" in head.headers
    read = client.get(f"/Patient/{pid}")
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == "Okafor"
    assert read.headers["etag"] == 'W/"1"'

    updated = client.put(f"/Patient/{pid}", json=_patient(id=pid, gender="other"))
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    assert client.get(f"/Patient/{pid}").json()["gender"] == "other"
    assert client.get("/Patient", params={"gender": "female"}).json()["total"] == 0
    assert client.get("/Patient", params={"gender": "other"}).json()["total"] == 1

    stale = client.put(f"/Patient/{pid}", json=_patient(id=pid), headers={"If-Match": 'W/"1"'})
    assert "version 2" in _outcome(stale, 412)
    fresh = client.put(f"/Patient/{pid}", json=_patient(id=pid), headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == 'W/"3"'


def test_update_creates_with_client_id_and_checks_ids(client: httpx.Client) -> None:
    created = client.put("/Patient/client-chosen-1", json=_patient(id="client-chosen-1"))
    assert created.status_code == 201
    assert created.json()["id"] == "client-chosen-1"
    assert "does not match" in _outcome(client.put("/Patient/a1", json=_patient(id="b2")), 400)
    assert "invalid resource id" in _outcome(client.put("/Patient/bad_id!", json=_patient()), 400)
    assert "does not match" in _outcome(
        client.put("/Patient/a1", json={"resourceType": "Observation"}), 400
    )


def test_delete_then_gone(client: httpx.Client) -> None:
    pid = client.post("/Patient", json=_patient()).json()["id"]
    deleted = client.delete(f"/Patient/{pid}")
    assert deleted.status_code == 200
    assert deleted.json()["resourceType"] == "OperationOutcome"
    assert "deleted" in _outcome(client.get(f"/Patient/{pid}"), 410)
    assert client.get("/Patient", params={"_id": pid}).json()["total"] == 0
    assert client.delete(f"/Patient/{pid}").status_code == 200
    revived = client.put(f"/Patient/{pid}", json=_patient(id=pid))
    assert revived.status_code == 201
    assert revived.json()["meta"]["versionId"] == "3"
    _outcome(client.delete("/Patient/never-existed"), 404)


def test_not_found_method_media_and_format_errors(client: httpx.Client) -> None:
    _outcome(client.get("/Patient/nope"), 404)
    assert "not supported" in _outcome(client.get("/Spaceship"), 404)
    _outcome(client.get("/Patient/a/b/c"), 404)
    _outcome(client.get("/Patient/a/$not-an-operation"), 404)
    _outcome(client.patch("/Patient/a", json={}), 405)
    _outcome(client.delete("/Patient"), 405)
    _outcome(
        client.post("/Patient", content=b"name=x", headers={"Content-Type": "text/plain"}), 415
    )
    assert "not valid JSON" in _outcome(client.post("/Patient", content=b"{nope"), 400)
    _outcome(client.get("/Patient", headers={"Accept": "application/fhir+xml"}), 406)
    _outcome(client.get("/Patient", params={"_format": "xml"}), 406)
    _outcome(client.get("/Patient", params={"_count": "-1"}), 400)
    _outcome(client.get("/Observation", params={"value-quantity": "abc"}), 400)


def test_validation_on_rejects_and_off_accepts(client: httpx.Client, tmp_path: Path) -> None:
    bad = _patient(birthDate="not-a-date")
    message = _outcome(client.post("/Patient", json=bad), 422)
    assert "birthDate" in message
    unknown = _outcome(client.post("/Patient", json=_patient(favouriteColour="blue")), 422)
    assert "favouriteColour" in unknown
    assert client.get("/Patient").json()["total"] == 0
    with BackgroundServer(tmp_path / "lax.sqlite", validate=False) as lax:
        response = httpx.post(f"{lax.base_url}/Patient", json=bad, headers=FHIR)
        assert response.status_code == 201


def test_transaction_resolves_urn_uuid_references(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:0f0e0d0c-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                    "subject": {"reference": "urn:uuid:0f0e0d0c-0000-4000-8000-000000000001"},
                    "effectiveDateTime": "2019-05-03T10:00:00Z",
                    "valueQuantity": {
                        "value": 6.1,
                        "unit": "%",
                        "system": "http://unitsofmeasure.org",
                        "code": "%",
                    },
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "fullUrl": "urn:uuid:0f0e0d0c-0000-4000-8000-000000000001",
                "resource": _patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": _patient(id="fixed-id"),
                "request": {"method": "PUT", "url": "Patient/fixed-id"},
            },
        ],
    }
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created", "201 Created"]
    patient_location = result["entry"][1]["response"]["location"]
    patient_id = patient_location.split("/")[1]
    assert result["entry"][2]["response"]["location"] == "Patient/fixed-id/_history/1"
    observation = client.get(
        "/" + "/".join(result["entry"][0]["response"]["location"].split("/")[:2])
    ).json()
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"
    found = client.get(
        "/Observation", params={"patient": patient_id, "code": "4548-4", "date": "2019-05"}
    ).json()
    assert found["total"] == 1


def test_transaction_is_atomic_and_names_the_failing_entry(client: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": _patient(id="t1"), "request": {"method": "PUT", "url": "Patient/t1"}},
            {"resource": _patient(id="t2"), "request": {"method": "PUT", "url": "Patient/t2"}},
            {
                "resource": _patient(id="t3", birthDate="31/12/1999"),
                "request": {"method": "PUT", "url": "Patient/t3"},
            },
        ],
    }
    message = _outcome(client.post("/", json=bundle), 422)
    assert "entry 2" in message
    assert client.get("/Patient").json()["total"] == 0
    bundle["entry"][2] = {
        "resource": _patient(id="t1"),
        "request": {"method": "PUT", "url": "Patient/t1"},
    }
    assert "entry 2" in _outcome(client.post("/", json=bundle), 400)
    bundle["entry"][2] = {"request": {"method": "DELETE", "url": "Patient/never"}}
    assert "entry 2" in _outcome(client.post("/", json=bundle), 404)
    assert client.get("/Patient").json()["total"] == 0
    _outcome(client.post("/", json={"resourceType": "Bundle", "type": "collection"}), 400)
    _outcome(client.post("/", json=_patient()), 400)


def test_batch_processes_entries_independently(client: httpx.Client) -> None:
    client.put("/Patient/keep", json=_patient(id="keep"))
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": _patient(id="b1"), "request": {"method": "PUT", "url": "Patient/b1"}},
            {
                "resource": _patient(id="b2", gender=7),
                "request": {"method": "PUT", "url": "Patient/b2"},
            },
            {"request": {"method": "GET", "url": "Patient/keep"}},
            {"request": {"method": "GET", "url": "Patient?_id=b1"}},
            {"request": {"method": "GET", "url": "Patient/missing"}},
            {"request": {"method": "DELETE", "url": "Patient/keep"}},
        ],
    }
    result = client.post("/", json=bundle).json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == [
        "201 Created",
        "422 Unprocessable Entity",
        "200 OK",
        "200 OK",
        "404 Not Found",
        "204 No Content",
    ]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert result["entry"][2]["resource"]["id"] == "keep"
    assert result["entry"][3]["resource"]["total"] == 1
    assert client.get("/Patient/b1").status_code == 200
    assert client.get("/Patient/b2").status_code == 404
    assert client.get("/Patient/keep").status_code == 410


def test_binary_raw_and_json(client: httpx.Client, images_dir: Path) -> None:
    png = sorted(images_dir.glob("*.png"))[0].read_bytes()
    binary = {
        "resourceType": "Binary",
        "id": "xray1",
        "contentType": "image/png",
        "data": base64.b64encode(png).decode(),
    }
    assert client.put("/Binary/xray1", json=binary).status_code == 201
    raw = client.get("/Binary/xray1", headers={"Accept": "image/png"})
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "image/png"
    assert raw.content == png
    anything = client.get("/Binary/xray1", headers={"Accept": "*/*"})
    assert anything.content == png
    as_json = client.get("/Binary/xray1")
    assert as_json.headers["content-type"].startswith("application/fhir+json")
    assert base64.b64decode(as_json.json()["data"]) == png
    posted = client.post("/Binary", content=png, headers={"Content-Type": "image/png"})
    assert posted.status_code == 201
    new_id = posted.json()["id"]
    assert client.get(f"/Binary/{new_id}", headers={"Accept": "image/png"}).content == png


def test_search_via_post_and_last_updated(client: httpx.Client) -> None:
    created = client.post("/Patient", json=_patient()).json()
    stamp = created["meta"]["lastUpdated"]
    form = client.post(
        "/Patient/_search",
        data={"family": "okaf"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200
    assert form.json()["total"] == 1
    assert client.get("/Patient", params={"_lastUpdated": f"ge{stamp}"}).json()["total"] == 1
    assert client.get("/Patient", params={"_lastUpdated": f"gt{stamp}"}).json()["total"] == 0
    assert client.get("/Patient", params={"_lastUpdated": "lt2000"}).json()["total"] == 0


def test_bearer_token_and_access_log(tmp_path: Path) -> None:
    with BackgroundServer(tmp_path / "secure.sqlite", token="s3cret") as secure:
        base = secure.base_url
        assert httpx.get(f"{base}/metadata").status_code == 200
        missing = httpx.get(f"{base}/Patient")
        assert "required" in _outcome(missing, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(f"{base}/Patient", headers={"Authorization": "Bearer nope"})
        assert "invalid" in _outcome(wrong, 401)
        ok = httpx.get(
            f"{base}/Patient",
            params={"gender": "female"},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 200
        entries = list(secure.access_log)
        assert [(e.method, e.path, e.query, e.status) for e in entries] == [
            ("GET", "/metadata", "", 200),
            ("GET", "/Patient", "", 401),
            ("GET", "/Patient", "", 401),
            ("GET", "/Patient", "gender=female", 200),
        ]
        secure.access_log.clear()
        assert len(secure.access_log) == 0


def test_oversized_body_is_413_in_process(tmp_path: Path) -> None:
    app = create_app(tmp_path / "small.sqlite", max_body_bytes=200)
    transport = httpx.ASGITransport(app=app)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://fhir.test") as http:
            return await http.post(
                "/Patient",
                json=_patient(text={"status": "generated", "div": "x" * 500}),
                headers=FHIR,
            )

    import asyncio

    response = asyncio.run(send())
    _outcome(response, 413)
    app.state.store.close()


@pytest.mark.asyncio
async def test_background_server_works_from_async_tests(tmp_path: Path) -> None:
    with BackgroundServer(tmp_path / "async.sqlite") as running:
        async with httpx.AsyncClient(base_url=running.base_url, headers=FHIR) as http:
            created = await http.post("/Patient", json=_patient())
            assert created.status_code == 201
            read = await http.get(f"/Patient/{created.json()['id']}")
            assert read.json()["gender"] == "female"

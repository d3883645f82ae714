"""Loading real Synthea bundles and NDJSON through the project's FHIR client, over HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.cli import main as cli_main
from fhir_fixtures.loader import LoadReport, load_paths
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient


def _raw_counts(paths: list[Path]) -> Counter[str]:
    seen: dict[tuple[str, str], None] = {}
    for path in paths:
        for entry in json.loads(gzip.decompress(path.read_bytes()))["entry"]:
            seen[(entry["resource"]["resourceType"], entry["resource"]["id"])] = None
    return Counter(t for t, _ in seen)


def _server_counts(base_url: str, types: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    with httpx.Client(base_url=base_url) as http:
        for rtype in types:
            counts[rtype] = http.get(f"/{rtype}", params={"_summary": "count"}).json()["total"]
    return counts


def test_loads_all_patients_idempotently(tmp_path: Path, synthea_dir: Path) -> None:
    expected = _raw_counts(sorted(synthea_dir.glob("*.json.gz")))
    with BackgroundServer(tmp_path / "fhir.sqlite", validate=False) as server:
        first = _load(server.base_url, [synthea_dir], concurrency=3)
        assert first.failed == []
        assert len(first.files) == 43
        assert _server_counts(server.base_url, list(expected)) == expected
        # Loading again (shared bundles plus a few patients) must not duplicate anything.
        again = [
            *sorted(synthea_dir.glob("hospitalInformation*")),
            *sorted(synthea_dir.glob("practitionerInformation*")),
            next(synthea_dir.glob("Alexis*.json.gz")),
            *sorted(synthea_dir.glob("[B-D]*.json.gz")),
        ]
        second = _load(server.base_url, again, concurrency=3)
        assert second.failed == []
        assert len(second.files) == len(again)
        assert second.resources == sum(f.resources for f in first.files if f.path in again)
        assert _server_counts(server.base_url, list(expected)) == expected
        alexis = json.loads(gzip.decompress(next(synthea_dir.glob("Alexis*.json.gz")).read_bytes()))
        patient_id = next(
            e["resource"]["id"]
            for e in alexis["entry"]
            if e["resource"]["resourceType"] == "Patient"
        )
        read = httpx.get(f"{server.base_url}/Patient/{patient_id}").json()
        assert read["meta"]["versionId"] == "2"
        posts = [e for e in server.access_log if e.method == "POST" and e.path == "/"]
        assert len(posts) == 43 + len(again)
        assert all(e.status == 200 for e in posts)


def _load(base_url: str, paths: list[Path], *, concurrency: int = 4) -> LoadReport:
    async def run() -> LoadReport:
        async with FHIRClient(base_url) as client:
            return await load_paths(paths, client, concurrency=concurrency, progress=False)

    return asyncio.run(run())


def _write_gz(path: Path, document: Any) -> Path:
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    return path


def test_bad_files_are_reported_and_the_rest_still_loads(
    tmp_path: Path, patient_bundle_paths: list[Path]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = shutil.copy(patient_bundle_paths[0], folder / "good.json.gz")
    (folder / "notjson.json").write_text("{this is not json")
    _write_gz(folder / "notbundle.json.gz", {"resourceType": "Patient", "id": "x"})
    (folder / "truncated.json.gz").write_bytes(gzip.compress(b'{"resourceType": "Bundle"')[:-6])
    bundle = json.loads(gzip.decompress(patient_bundle_paths[1].read_bytes()))
    bad_index = 7
    bundle["entry"][bad_index]["resource"]["status"] = {"not": "a code"}
    _write_gz(folder / "rejected.json.gz", bundle)
    (folder / "README.txt").write_text("ignored: not a bundle extension")

    with BackgroundServer(tmp_path / "fhir.sqlite", validate=True) as server:
        report = _load(server.base_url, [folder, tmp_path / "missing.json"])
        by_name = {f.path.name: f for f in report.files}
        assert set(by_name) == {
            "good.json.gz",
            "notjson.json",
            "notbundle.json.gz",
            "truncated.json.gz",
            "rejected.json.gz",
            "missing.json",
        }
        good_count = len(json.loads(gzip.decompress(Path(good).read_bytes()))["entry"])
        assert by_name["good.json.gz"].ok
        assert by_name["good.json.gz"].resources == good_count
        assert "not valid JSON" in str(by_name["notjson.json"].error)
        assert "not a FHIR Bundle" in str(by_name["notbundle.json.gz"].error)
        assert "cannot read" in str(by_name["truncated.json.gz"].error)
        assert "no such file" in str(by_name["missing.json"].error)
        rejected = str(by_name["rejected.json.gz"].error)
        bad_type = bundle["entry"][bad_index]["resource"]["resourceType"]
        assert f"entry {bad_index} ({bad_type}/" in rejected
        assert "status" in rejected
        assert by_name["rejected.json.gz"].resources == 0
        with httpx.Client(base_url=server.base_url) as http:
            assert http.get("/Patient", params={"_summary": "count"}).json()["total"] == 1


def test_ndjson_files_load_in_chunks_and_report_bad_lines(
    tmp_path: Path, patient_bundle_paths: list[Path]
) -> None:
    resources: list[dict[str, Any]] = []
    for path in patient_bundle_paths[:3]:
        for entry in json.loads(gzip.decompress(path.read_bytes()))["entry"]:
            resources.append(entry["resource"])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    folder = tmp_path / "export"
    folder.mkdir()
    for rtype, items in by_type.items():
        text = "\n".join(json.dumps(r) for r in items) + "\n"
        if rtype == "Observation":
            (folder / f"{rtype}.ndjson.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"{rtype}.ndjson").write_text(text)
    broken = folder / "Broken.ndjson"
    broken.write_text(json.dumps(by_type["Condition"][0]) + "\n\n" + "[1, 2]\n")
    expected = Counter(t for t, _ in {(r["resourceType"], r["id"]): None for r in resources})

    with BackgroundServer(tmp_path / "fhir.sqlite", validate=False) as server:
        report = _load(server.base_url, [folder])
        failed = {f.path.name: f.error for f in report.failed}
        assert list(failed) == ["Broken.ndjson"]
        assert "line 3" in str(failed["Broken.ndjson"])
        assert _server_counts(server.base_url, list(expected)) == expected
        observation_posts = [e for e in server.access_log if e.method == "POST"]
        assert len(observation_posts) >= -(-len(by_type["Observation"]) // 500)


def test_cli_load_into_url_and_embedded_default(
    tmp_path: Path, patient_bundle_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with BackgroundServer(tmp_path / "target.sqlite", validate=False) as server:
        code = cli_main(
            ["fhir", "load", str(patient_bundle_paths[2]), str(bad), "--url", server.base_url]
        )
        assert code == 1
        output = capsys.readouterr().out
        assert "bad.json" in output
        assert "not a FHIR Bundle" in output
        total = httpx.get(f"{server.base_url}/Patient", params={"_summary": "count"}).json()[
            "total"
        ]
        assert total == 1

    data_dir = tmp_path / "state"
    code = cli_main(["fhir", "load", str(patient_bundle_paths[3]), "--data-dir", str(data_dir)])
    assert code == 0
    assert (data_dir / "fhir.sqlite").exists()
    with BackgroundServer(data_dir / "fhir.sqlite") as embedded:
        expected = sum(
            1
            for e in json.loads(gzip.decompress(patient_bundle_paths[3].read_bytes()))["entry"]
            if e["resource"]["resourceType"] == "Observation"
        )
        got = httpx.get(f"{embedded.base_url}/Observation", params={"_summary": "count"}).json()[
            "total"
        ]
        assert got == expected


def test_cli_load_with_images_attaches_real_xrays(
    tmp_path: Path, patient_bundle_paths: list[Path], images_dir: Path
) -> None:
    with_studies = [
        path
        for path in patient_bundle_paths
        if any(
            e["resource"]["resourceType"] == "ImagingStudy"
            for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]
        )
    ]
    assert with_studies
    pngs = {p.read_bytes() for p in images_dir.glob("*.png")}
    with BackgroundServer(tmp_path / "fhir.sqlite", validate=True) as server:
        paths = [str(p) for p in with_studies]
        code = cli_main(
            ["fhir", "load", *paths, "--url", server.base_url, "--with-images", str(images_dir)]
        )
        assert code == 0
        with httpx.Client(base_url=server.base_url) as http:
            media = http.get("/Media", params={"_count": "100"}).json()
            assert media["total"] > 0
            for entry in media["entry"]:
                url = entry["resource"]["content"]["url"]
                raw = http.get(f"/{url}", headers={"Accept": "image/png"})
                assert raw.headers["content-type"] == "image/png"
                assert raw.content in pngs

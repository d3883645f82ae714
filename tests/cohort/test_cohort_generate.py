"""The generator: deterministic output, safe replacement of the output folder, reproducibility."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

from fhir_fixtures.cohort.generate import CohortError, generate_cohort, main, write_cohort

SEED, AS_OF, PATIENTS = "20261122", "2026-11-01", "25"

# Generates the 25-patient cohort several times (about 2.5 s each).
pytestmark = pytest.mark.slow


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    runs = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name) / "cohort"
        args = ["--seed", SEED, "--as-of", AS_OF, "--patients", PATIENTS, "--out", str(out)]
        assert main(args) == 0
        runs.append(_files(out))
    return runs[0], runs[1]


def test_same_seed_and_date_give_byte_identical_files(
    two_runs: tuple[dict[str, bytes], dict[str, bytes]],
) -> None:
    first, second = two_runs
    assert sorted(first) == sorted(second)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    assert len([n for n in first if n.endswith(".json.gz")]) == 25


def test_gzip_headers_carry_no_time_or_name(
    two_runs: tuple[dict[str, bytes], dict[str, bytes]],
) -> None:
    for name, data in two_runs[0].items():
        if name.endswith(".gz"):
            # RFC 1952: bytes 4-7 are MTIME; FLG (byte 3) bit 3 means a file name follows.
            assert data[4:8] == b"\0\0\0\0", name
            assert data[3] & 0x08 == 0, name


def _content(files: dict[str, bytes]) -> dict[str, Any]:
    """What the files mean, independent of the compressor's exact bytes."""
    decoded: dict[str, Any] = {}
    for name, data in files.items():
        if name.endswith(".json.gz"):
            decoded[name] = json.loads(gzip.decompress(data))
        elif name.endswith(".png"):
            decoded[name] = np.asarray(Image.open(io.BytesIO(data))).tolist()
        elif name.endswith(".dcm"):
            ds = pydicom.dcmread(io.BytesIO(data))
            decoded[name] = (ds.StudyInstanceUID, ds.PatientID, ds.pixel_array.tolist())
    return decoded


def test_committed_cohort_is_what_the_recorded_command_generates(
    two_runs: tuple[dict[str, bytes], dict[str, bytes]], cohort_dir: Path, manifest: dict[str, Any]
) -> None:
    assert manifest["seed"] == int(SEED)
    assert manifest["as_of"] == AS_OF
    assert manifest["patients"] == int(PATIENTS)
    assert f"--seed {SEED} --as-of {AS_OF} --patients {PATIENTS}" in manifest["command"]
    committed = _files(cohort_dir)
    regenerated = two_runs[0]
    assert sorted(committed) == sorted(regenerated)
    # Compare meaning, not bytes: another zlib build may compress the same data differently.
    assert _content(committed) == _content(regenerated)


def test_another_seed_gives_other_patients(tmp_path: Path, manifest: dict[str, Any]) -> None:
    out = tmp_path / "other"
    assert main(["--seed", "7", "--as-of", AS_OF, "--patients", "3", "--out", str(out)]) == 0
    other = json.loads((out / "MANIFEST.json").read_text())
    ids = {b["patient_id"] for b in other["bundles"]}
    assert len(ids) == 3
    assert not ids & {b["patient_id"] for b in manifest["bundles"]}


def test_refuses_to_replace_a_folder_that_is_not_a_cohort(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    cohort = generate_cohort(1, date(2026, 11, 1), 1)
    with pytest.raises(CohortError, match="not a cohort folder"):
        write_cohort(cohort, out)
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]


def test_regenerating_replaces_the_previous_cohort_completely(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    assert main(["--seed", "1", "--as-of", AS_OF, "--patients", "12", "--out", str(out)]) == 0
    first = set(_files(out))
    assert main(["--seed", "2", "--as-of", AS_OF, "--patients", "2", "--out", str(out)]) == 0
    second = _files(out)
    manifest = json.loads(second["MANIFEST.json"])
    expected = {b["path"] for b in manifest["bundles"]} | {i["path"] for i in manifest["images"]}
    assert set(second) == expected | {"MANIFEST.json"}
    assert not (first - {"MANIFEST.json"}) & set(second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_bad_arguments_exit_non_zero_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    assert main(["--seed", "1", "--as-of", AS_OF, "--patients", "0", "--out", str(out)]) == 2
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["--seed", "1", "--as-of", "2026-13-01", "--out", str(out)])


def test_manifest_hashes_are_of_the_written_files(
    two_runs: tuple[dict[str, bytes], dict[str, bytes]],
) -> None:
    files = two_runs[0]
    manifest = json.loads(files["MANIFEST.json"])
    for entry in [*manifest["bundles"], *manifest["images"]]:
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"]
        assert len(files[entry["path"]]) == entry["bytes"]

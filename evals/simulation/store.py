"""The output folder of a run: what is finished, and writing without half-written files.

Layout of ``--out DIR``::

    run.json                   what the run is (models per role, turn limit...): a
                               resumed run must match it
    transcripts/<case>.jsonl   one turn a line
    results/<case>.json        the scored case; its presence marks the case finished
    results.jsonl              every finished case of the case file, in file order
    summary.json, summary.md   accuracy with 95% intervals, agreement, usage

Every file is written to a temporary name and renamed into place, the transcript before
the result, so an interrupted run leaves either a finished case or nothing for it: the
next run simply simulates it again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.simulation.cases import SimulationCase
from evals.simulation.errors import RunDirectoryError
from evals.simulation.records import CaseResult, Turn, utc_now

__all__ = ["RunStore", "write_atomically"]

_MANIFEST = "run.json"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed before the rename
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # Temporary files are private (0600); results are meant to be shared and read.
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class RunStore:
    """Reads and writes one run's output folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.transcripts = root / "transcripts"
        self.results = root / "results"

    def transcript_path(self, case_id: str) -> Path:
        """Where a case's transcript is written."""
        return self.transcripts / f"{case_id}.jsonl"

    def result_path(self, case_id: str) -> Path:
        """Where a case's result is written."""
        return self.results / f"{case_id}.json"

    def prepare(self, identity: dict[str, Any], details: dict[str, Any]) -> None:
        """Create the folder, or check that it holds the same kind of run.

        Every invocation is appended to the manifest's ``invocations`` (with its time),
        so the folder records exactly how its results were produced.

        Args:
            identity: What must not change between a run and its resumption (models per
                role, turn limit, EHR question limit, prompts).
            details: This invocation's arguments and endpoints, recorded for reference.

        Raises:
            RunDirectoryError: The folder holds a run with another identity, or is not
                a run folder.
        """
        manifest = self.root / _MANIFEST
        invocation = {"at": utc_now().isoformat(timespec="seconds"), **details}
        if manifest.exists():
            try:
                recorded = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise RunDirectoryError(f"{manifest} cannot be read: {exc}") from exc
            previous = recorded.get("identity") or {}
            if previous != identity:
                changed = sorted(
                    key
                    for key in set(identity) | set(previous)
                    if previous.get(key) != identity.get(key)
                )
                raise RunDirectoryError(
                    f"{self.root} holds a run with other settings ({', '.join(changed)} "
                    "differ); resume it with the same settings or choose another --out"
                )
            invocations = [*recorded.get("invocations", []), invocation]
        elif self.root.exists() and any(self.root.iterdir()):
            raise RunDirectoryError(
                f"{self.root} is not empty and holds no {_MANIFEST}: choose another --out"
            )
        else:
            invocations = [invocation]
        document = {"identity": identity, "invocations": invocations}
        write_atomically(manifest, json.dumps(document, indent=2, sort_keys=True) + "\n")

    def finished(self, cases: Sequence[SimulationCase]) -> dict[str, CaseResult]:
        """The results already written for ``cases``, by case id.

        Raises:
            RunDirectoryError: A result is unreadable, or belongs to a case whose content
                has changed since (the case file was edited).
        """
        done: dict[str, CaseResult] = {}
        for case in cases:
            path = self.result_path(case.id)
            if not path.exists():
                continue
            try:
                result = CaseResult.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                raise RunDirectoryError(f"{path} cannot be read: {exc}") from exc
            if result.case_sha256 != case.sha256:
                raise RunDirectoryError(
                    f"case {case.id} (line {case.line}) changed since it was simulated in "
                    f"{self.root}; choose another --out to run the new version"
                )
            done[case.id] = result
        return done

    def save(self, result: CaseResult, turns: Iterable[Turn]) -> None:
        """Write a finished case: transcript first, then the result that marks it done."""
        lines = "".join(turn.model_dump_json() + "\n" for turn in turns)
        write_atomically(self.transcript_path(result.case_id), lines)
        write_atomically(self.result_path(result.case_id), result.model_dump_json(indent=2) + "\n")

    def write_report(
        self, results: Sequence[CaseResult], summary: dict[str, Any], markdown: str
    ) -> None:
        """Write ``results.jsonl``, ``summary.json`` and ``summary.md``."""
        write_atomically(
            self.root / "results.jsonl",
            "".join(result.model_dump_json() + "\n" for result in results),
        )
        write_atomically(
            self.root / "summary.json", json.dumps(summary, indent=2, sort_keys=False) + "\n"
        )
        write_atomically(self.root / "summary.md", markdown)

"""Loading Synthea bundles and bulk-export NDJSON into any FHIR R4 server.

Each Synthea file (``.json``/``.json.gz``: a transaction, batch or collection Bundle) is
rewritten into one transaction of ``PUT Type/<id>`` with ``Type/<id>`` references (see
:mod:`fhir_fixtures.synthea_bundle`), so ids are Synthea's UUIDs and loading twice changes
nothing but versions. NDJSON files (``.ndjson``/``.ndjson.gz``, one resource a line) go as
transactions of :data:`NDJSON_CHUNK` PUTs. Files load concurrently (bounded); a bad file is
reported with its name and the entry (or line) at fault, and the others still load.

Everything goes through :class:`tools.fhir.FHIRClient`, the project's one FHIR chokepoint.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from fhir_fixtures.synthea_bundle import BundleError, bundle_of_puts, chunks, prepare_transaction

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tools.fhir import FHIRClient, FHIRError

__all__ = [
    "NDJSON_CHUNK",
    "FileResult",
    "LoadReport",
    "discover_files",
    "load_command",
    "load_paths",
]

NDJSON_CHUNK = 500
_BUNDLE_SUFFIXES = (".json", ".json.gz")
_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz")
# Organisations and practitioners first: patient bundles reference them.
_SHARED_PREFIXES = ("hospitalInformation", "practitionerInformation")
_ENTRY_RE = re.compile(r"entry\[(\d+)\]|entry (\d+)")


@dataclass
class FileResult:
    """What happened to one file.

    Attributes:
        path: the file.
        resources: resources the server accepted from it.
        error: why (part of) it failed, naming the entry or line; None when it loaded.
        seconds: wall time spent on it.
    """

    path: Path
    resources: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the whole file loaded."""
        return self.error is None


@dataclass
class LoadReport:
    """Per-file results of one load."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def resources(self) -> int:
        """Resources loaded across all files."""
        return sum(f.resources for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """Files with an error."""
        return [f for f in self.files if not f.ok]

    @property
    def rate(self) -> float:
        """Resources per second over the whole load."""
        return self.resources / self.seconds if self.seconds > 0 else 0.0


def _is_loadable(path: Path) -> bool:
    return path.name.endswith(_BUNDLE_SUFFIXES + _NDJSON_SUFFIXES)


def discover_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Expand folders into loadable files (shared organisation bundles first).

    Returns:
        The files to load, and results for paths that cannot be loaded at all (missing, or a
        folder without loadable files).
    """
    files: list[Path] = []
    problems: list[FileResult] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _is_loadable(p))
            if not found:
                problems.append(
                    FileResult(
                        path, error="folder holds no .json, .json.gz, .ndjson or .ndjson.gz files"
                    )
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(FileResult(path, error="no such file or folder"))
    unique = list(dict.fromkeys(files))
    unique.sort(key=lambda p: not p.name.startswith(_SHARED_PREFIXES))
    return unique, problems


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    return data


def _read_bundle(path: Path) -> tuple[dict[str, Any], list[int]]:
    try:
        document = orjson.loads(_read_bytes(path))
    except (OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"cannot read the file: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"not valid JSON: {exc}") from None
    prepared = prepare_transaction(document)
    return prepared.bundle, prepared.source_index


def _read_ndjson(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = _read_bytes(path).decode("utf-8")
    except (OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"cannot read the file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BundleError(f"not UTF-8 text: {exc}") from None
    resources: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except json.JSONDecodeError as exc:
            raise BundleError(f"line {number}: not valid JSON: {exc}") from None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BundleError(f"line {number}: not a FHIR resource")
        if not isinstance(resource.get("id"), str):
            raise BundleError(f"line {number}: a resource without an id cannot be loaded")
        resources.append((number, resource))
    return resources


def _failed_entry(error: FHIRError) -> int | None:
    texts = [error.diagnostics, *(" ".join(i.expression) for i in error.issues)]
    for text in texts:
        match = _ENTRY_RE.search(text or "")
        if match:
            return int(match.group(1) or match.group(2))
    return None


def _rejection(error: FHIRError, what: list[str]) -> str:
    index = _failed_entry(error)
    reason = error.diagnostics or str(error)
    if index is not None and 0 <= index < len(what):
        return f"the server rejected {what[index]}: {reason}"
    return f"the server rejected the bundle: {reason}"


def _accepted(response: dict[str, Any]) -> int:
    count = 0
    for entry in response.get("entry") or []:
        status = str((entry.get("response") or {}).get("status", ""))
        if status[:1] == "2":
            count += 1
    return count


class _Loader:
    def __init__(
        self, client: FHIRClient, concurrency: int, progress: Progress | None, task: TaskID | None
    ) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(max(1, concurrency))
        self.progress = progress
        self.task = task
        self.loaded = 0
        self.started = time.perf_counter()

    def _advance(self, resources: int, *, file_done: bool) -> None:
        self.loaded += resources
        if self.progress is not None and self.task is not None:
            elapsed = max(time.perf_counter() - self.started, 1e-6)
            self.progress.update(
                self.task,
                advance=1 if file_done else 0,
                resources=self.loaded,
                rate=self.loaded / elapsed,
            )

    async def _send(self, bundle: dict[str, Any]) -> int:
        async with self.slots:
            response = await self.client.transaction(bundle)
        return _accepted(response)

    async def load_file(self, path: Path) -> FileResult:
        from tools.fhir import FHIRError

        result = FileResult(path)
        started = time.perf_counter()
        try:
            if path.name.endswith(_NDJSON_SUFFIXES):
                await self._load_ndjson(path, result)
            else:
                bundle, sources = await asyncio.to_thread(_read_bundle, path)
                what = [
                    f"entry {source} ({entry['request']['url']})"
                    for source, entry in zip(sources, bundle["entry"], strict=True)
                ]
                try:
                    result.resources = await self._send(bundle)
                except FHIRError as exc:
                    result.error = _rejection(exc, what)
        except BundleError as exc:
            result.error = str(exc)
        result.seconds = time.perf_counter() - started
        self._advance(result.resources, file_done=True)
        return result

    async def _load_ndjson(self, path: Path, result: FileResult) -> None:
        from tools.fhir import FHIRError

        resources = await asyncio.to_thread(_read_ndjson, path)
        for chunk in chunks(resources, NDJSON_CHUNK):
            bundle = bundle_of_puts(resource for _, resource in chunk)
            what = [f"line {number} ({r['resourceType']}/{r['id']})" for number, r in chunk]
            try:
                result.resources += await self._send(bundle)
            except FHIRError as exc:
                result.error = _rejection(exc, what)
                return


async def load_paths(
    paths: Sequence[str | Path],
    client: FHIRClient,
    *,
    concurrency: int = 4,
    progress: bool = True,
) -> LoadReport:
    """Load files and folders into the FHIR server behind ``client``.

    Args:
        paths: Synthea bundle files, NDJSON files, or folders of them.
        client: an open :class:`tools.fhir.FHIRClient`.
        concurrency: transactions in flight at once.
        progress: show a progress bar (files, resources, resources/s) on stderr.

    Returns:
        Per-file results; files that failed carry an error naming the entry or line.
    """
    files, problems = discover_files(paths)
    started = time.perf_counter()
    bar: Progress | None = None
    task: TaskID | None = None
    if progress:
        bar, task = _progress_bar(len(files))
        bar.start()
    try:
        loader = _Loader(client, concurrency, bar, task)
        results = await asyncio.gather(*(loader.load_file(path) for path in files))
    finally:
        if bar is not None:
            bar.stop()
    return LoadReport([*problems, *results], seconds=time.perf_counter() - started)


def _progress_bar(total: int) -> tuple[Progress, TaskID]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from agent.cli_common import err_console

    bar = Progress(
        TextColumn("[bold]loading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TextColumn("{task.fields[resources]:,} resources"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err_console(),
    )
    task = bar.add_task("load", total=total, resources=0, rate=0.0)
    return bar, task


def _print_report(report: LoadReport) -> None:
    from rich.table import Table

    from agent.cli_common import console

    table = Table(title="FHIR load", show_footer=True)
    table.add_column("file", footer=f"{len(report.files)} files")
    table.add_column("resources", justify="right", footer=f"{report.resources:,}")
    table.add_column(
        "result", footer=f"{len(report.failed)} failed, {report.rate:,.0f} resources/s"
    )
    # Long loads list only the failures; the footer still counts everything.
    rows = report.files if len(report.files) <= 60 else report.failed
    for item in rows:
        table.add_row(
            item.path.name,
            f"{item.resources:,}",
            "[green]ok[/]" if item.ok else f"[red]{item.error}[/]",
        )
    console().print(table)


def load_command(args: argparse.Namespace) -> int:
    """``ehr-agent fhir load``: load files into ``--url`` or the embedded server's database.

    With ``--with-images DIR``, the images are then attached to the loaded imaging studies
    (:func:`fhir_fixtures.images.attach_images`).

    Returns:
        0 when every file loaded, 1 otherwise.
    """
    from agent.cli_common import UserError, err_console, settings_from_args
    from agent.config import ConfigError
    from tools.fhir import FHIRError, from_settings

    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    concurrency = max(1, int(getattr(args, "concurrency", 4) or 4))
    images_dir = Path(args.with_images) if getattr(args, "with_images", None) else None
    if images_dir is not None and not images_dir.is_dir():
        raise UserError(f"--with-images: {images_dir} is not a folder")

    async def run(base_url: str | None) -> tuple[LoadReport, str | None]:
        async with from_settings(settings, base_url=base_url) as client:
            report = await load_paths(args.paths, client, concurrency=concurrency)
            attached = await _attach(client, images_dir) if images_dir is not None else None
            return report, attached

    try:
        if settings.fhir_url is not None:
            report, attached = asyncio.run(run(None))
        else:
            from fhir_fixtures.server import BackgroundServer

            db_path = settings.fhir_db_path
            err_console().print(f"loading into the embedded FHIR server's database {db_path}")
            with BackgroundServer(db_path, validate=False) as server:
                report, attached = asyncio.run(run(server.base_url))
    except FHIRError as exc:
        raise UserError(f"FHIR server failure: {exc}") from None
    _print_report(report)
    if attached is not None:
        from agent.cli_common import console

        console().print(attached)
    return 0 if not report.failed else 1


async def _attach(client: FHIRClient, images_dir: Path) -> str:
    from agent.cli_common import UserError
    from fhir_fixtures.images import ImageAttachError, attach_images

    try:
        attached = await attach_images(client, images_dir)
    except ImageAttachError as exc:
        raise UserError(f"attaching images failed: {exc}") from None
    return (
        f"images: {len(attached.attached)} study-image pairs in place, "
        f"{len(attached.skipped)} studies without a fitting image, "
        f"{attached.transactions} transactions"
    )

"""The embedded FHIR server as the default: started on loopback, sample cohort on first use.

With no FHIR URL configured, every front end gets the project's own server over its
SQLite file under the data directory. The first time (no database yet) the shipped sample
cohort and its images are loaded into a temporary file over HTTP, which is renamed into
place only when everything loaded: an interrupted first start leaves nothing
half-written behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from fhir_fixtures.server import BackgroundServer

__all__ = ["EmbeddedFHIRError", "embedded_fhir_server", "ensure_sample_database"]

log = logging.getLogger("ehr_agent.fhir.embedded")
_lock = threading.Lock()


class EmbeddedFHIRError(RuntimeError):
    """The embedded FHIR server could not be prepared."""


async def _load_sample(base_url: str) -> int:
    from fhir_fixtures.cohort import IMAGES_DIR, bundle_paths
    from fhir_fixtures.images import attach_images
    from fhir_fixtures.loader import load_paths
    from tools.fhir import FHIRClient

    async with FHIRClient(base_url, timeout=120) as client:
        report = await load_paths(bundle_paths(), client, progress=False)
        if report.failed:
            first = report.failed[0]
            raise EmbeddedFHIRError(f"the sample cohort did not load: {first.path}: {first.error}")
        await attach_images(client, IMAGES_DIR)
        return report.resources


def ensure_sample_database(db_path: Path) -> bool:
    """Create ``db_path`` with the sample cohort if it does not exist; True if created."""
    with _lock:
        if db_path.exists():
            return False
        db_path.parent.mkdir(parents=True, exist_ok=True)
        partial = db_path.with_name(f".{db_path.name}.{os.getpid()}.loading")
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        try:
            with BackgroundServer(partial, validate=False) as server:
                count = asyncio.run(_load_sample(server.base_url))
            os.replace(partial, db_path)
        finally:
            for leftover in (
                partial,
                *(partial.with_name(partial.name + s) for s in ("-wal", "-shm")),
            ):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        log.info("embedded FHIR database created with the sample cohort: %d resources", count)
        return True


@contextlib.contextmanager
def embedded_fhir_server(db_path: Path) -> Iterator[BackgroundServer]:
    """A running embedded server over ``db_path`` (sample cohort loaded if it was new)."""
    if not db_path.exists():
        # asyncio.run cannot nest: prepare the database in a worker thread when called
        # from inside a running event loop.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            ensure_sample_database(db_path)
        else:
            failure: list[BaseException] = []

            def prepare() -> None:
                try:
                    ensure_sample_database(db_path)
                except BaseException as exc:  # handed to the caller's thread below
                    failure.append(exc)

            worker = threading.Thread(target=prepare, name="embedded-fhir-setup")
            worker.start()
            worker.join()
            if failure:
                raise failure[0]
    with BackgroundServer(db_path, validate=True) as server:
        yield server

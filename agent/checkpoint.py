"""Where conversations are kept: SQLite by default, Postgres for several replicas.

A SQLite file serves one process (a laptop, one backend replica). Several backend
replicas behind a load balancer share a Postgres database instead
(``EHR_AGENT_CHECKPOINTER=postgresql://...``, extra ``ehr-agent[postgres]``), so any
replica can continue any conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.cli_common import UserError

__all__ = ["open_checkpointer"]


@asynccontextmanager
async def open_checkpointer(target: str) -> AsyncIterator[BaseCheckpointSaver]:
    """A checkpointer for ``target``: a SQLite path, ``:memory:``, or a postgresql:// URL."""
    if target.startswith(("postgresql://", "postgres://")):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError:
            raise UserError(
                "a Postgres checkpointer needs the postgres extra: "
                "pip install 'ehr-agent[postgres]'"
            ) from None
        async with AsyncPostgresSaver.from_conn_string(target) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    import aiosqlite

    async with aiosqlite.connect(target) as conn:
        if target != ":memory:":
            # WAL with synchronous=NORMAL: a crash can lose the last turns, never corrupt the
            # file; each turn no longer waits for an fsync.
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)

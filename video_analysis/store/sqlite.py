"""The embedded SQLite file (WAL) shared by the result and status stores, API and workers."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import ClassVar

import aiosqlite

from .connect import retry_connect

#: How long a statement waits for another connection's write lock before "database is locked".
BUSY_TIMEOUT_S = 10.0


async def open_sqlite(path: Path, cached_statements: int = 128) -> aiosqlite.Connection:
    """Open the embedded DB in WAL mode so the API and worker processes can share it;
    ``cached_statements`` as ``sqlite3.connect`` takes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Switching a new file to WAL needs an exclusive lock and SQLite answers "database is
    # locked" at once, without its busy handler, when another connection opens it at the same
    # moment (API and workers starting together): retry that step briefly.
    return await retry_connect(
        lambda: _open_sqlite_once(path, cached_statements),
        what=f"sqlite {path}",
        attempts=20,
        max_wait_s=0.5,
        retry_on=sqlite3.OperationalError,
        log_level=logging.DEBUG,
    )


async def _open_sqlite_once(path: Path, cached_statements: int) -> aiosqlite.Connection:
    # Autocommit: every statement is its own transaction, so no write is left open between
    # the awaits of concurrent requests sharing this connection.
    conn = await aiosqlite.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, cached_statements=cached_statements
    )
    try:
        await conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        await conn.close()
        raise
    return conn


class SQLiteStore:
    """One lazily opened connection to the embedded file; subclasses create their tables."""

    #: Start of the log line once started, e.g. ``"result store: sqlite"`` (then ``at PATH``).
    store_name: ClassVar[str]
    #: Prepared statements kept for reuse. A kept statement also keeps the buffers its last
    #: values took: the result store's hold a stored result, megabytes for an hour's.
    cached_statements: ClassVar[int] = 128

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def _create_schema(self, conn: aiosqlite.Connection) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        async with self._lock:
            if self._conn is not None:
                return
            conn = await open_sqlite(self.path, self.cached_statements)
            await self._create_schema(conn)
            self._conn = conn
            # Logged by the subclass's module, as before the base class existed.
            logging.getLogger(type(self).__module__).info("%s at %s", self.store_name, self.path)

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            await self.start()
        assert self._conn is not None
        return self._conn

    async def ping(self) -> None:
        conn = await self._connection()
        async with conn.execute("SELECT 1") as cursor:
            await cursor.fetchone()

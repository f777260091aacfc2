"""Where consolidated results live: MySQL in production, an embedded SQLite file otherwise.

One row per video, keyed by ``video_id``: a re-delivered result overwrites the row (upsert), so
at-least-once delivery from ``analysis-results`` never duplicates. The full result is kept as
JSON next to a few indexed columns that operators query by.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosqlite

from ..claim_check import body_of
from ..schemas import AnalysisResult
from ..settings import Settings
from .connect import StoreUnavailable, retry_connect
from .sqlite import BUSY_TIMEOUT_S, SQLiteStore

log = logging.getLogger(__name__)

#: File name of the embedded database inside ``settings.data_dir`` (results and status).
EMBEDDED_DB_NAME = "results.sqlite3"
RESULTS_TABLE = "analysis_results"


class ResultStore(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def save_result(self, result: AnalysisResult, body: bytes | None = None) -> None:
        """Keep ``result`` as ``body``, its JSON bytes (``claim_check.body_of``) when the
        caller has them already: the stored bytes are those a claim check hashed, and an
        hour's result is not serialised a second time."""
        ...

    async def get_result(self, video_id: str) -> AnalysisResult | None: ...
    async def get_result_body(self, video_id: str) -> bytes | None: ...
    async def delete_result(self, video_id: str) -> bool: ...
    async def interview_language(self, interview_id: str) -> str | None: ...


#: The speech rules whose language is evidence of what an interview is spoken in: the upload
#: said it, or it was heard. A language taken from the interview itself or the default is not.
LANGUAGE_EVIDENCE = ("metadata", "detected")
#: What each stored result says of its speech: the language, the rule that chose it, and
#: seconds of audio (JSON paths into the result column).
_LANGUAGE_PATHS = ("$.speech.language", "$.speech.language_source", "$.speech.audio_s")
# The column holds the JSON as text (results stored before) or as its UTF-8 bytes.
_SQLITE_LANGUAGE_COLUMNS = ", ".join(
    f"json_extract(CAST(result AS TEXT), '{p}')" for p in _LANGUAGE_PATHS
)
# MySQL's and MariaDB's JSON_EXTRACT gives JSON (a string in its quotes).
_MYSQL_LANGUAGE_COLUMNS = ", ".join(
    f"JSON_UNQUOTE(JSON_EXTRACT(result, '{p}'))" for p in _LANGUAGE_PATHS
)


def main_language(rows: list[tuple[Any, Any, Any]]) -> str | None:
    """The language of most audio over an interview's answers (language, the rule that chose
    it, seconds of audio each), counting only answers whose language was given or heard."""
    seconds: dict[str, float] = {}
    for language, source, audio_s in rows:
        if language and source in LANGUAGE_EVIDENCE:
            seconds[str(language)] = seconds.get(str(language), 0.0) + float(audio_s or 0.0)
    return max(seconds, key=lambda name: seconds[name]) if seconds else None


def _text(result: AnalysisResult, body: bytes | None) -> str:
    """What the result column holds: the result's JSON (``body`` when given)."""
    return (body if body is not None else body_of(result)).decode()


def embedded_db_path(settings: Settings) -> Path:
    return settings.data_dir / EMBEDDED_DB_NAME


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _naive_utc(value: datetime) -> datetime:
    """MySQL DATETIME has no zone: store UTC without tzinfo."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# SQLite (embedded default)

#: Bytes of the result written into the row at a time.
_BLOB_CHUNK = 1 << 16


def _write_result(path: Path, row: tuple[Any, ...], body: bytes) -> None:
    """Upsert ``row`` (video_id, status, interview_id, applicant_id, created_at, updated_at)
    with ``body`` as its result, in one transaction of a connection of its own.

    The body is written into the row a chunk at a time (SQLite's incremental BLOB I/O): bound
    as a value, SQLite copied an hour's 5 MB result three times over (the bound value, the
    record, the statement's buffers, kept with the statement), 10 MiB more at the join's
    peak than these writes."""
    # sqlite3's timeout is the connection's busy timeout, as the store's own connection has it.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, cached_statements=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            (rowid,) = conn.execute(
                f"""INSERT INTO {RESULTS_TABLE}
                    (video_id, status, interview_id, applicant_id, created_at, updated_at, result)
                VALUES (?, ?, ?, ?, ?, ?, zeroblob(?))
                ON CONFLICT(video_id) DO UPDATE SET
                    status = excluded.status,
                    interview_id = excluded.interview_id,
                    applicant_id = excluded.applicant_id,
                    created_at = excluded.created_at,
                    updated_at = excluded.updated_at,
                    result = excluded.result
                RETURNING rowid""",
                (*row, len(body)),
            ).fetchone()
            if body:
                view = memoryview(body)
                with conn.blobopen(RESULTS_TABLE, "result", rowid) as blob:
                    for at in range(0, len(body), _BLOB_CHUNK):
                        blob.write(view[at : at + _BLOB_CHUNK])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


class _ReadsResults:
    """``get_result`` from ``get_result_body``: one reading of the stored bytes for both."""

    async def get_result_body(self, video_id: str) -> bytes | None:
        raise NotImplementedError

    async def get_result(self, video_id: str) -> AnalysisResult | None:
        body = await self.get_result_body(video_id)
        return None if body is None else AnalysisResult.model_validate_json(body)


class SQLiteResultStore(_ReadsResults, SQLiteStore):
    """Results in a local SQLite file (``settings.data_dir / "results.sqlite3"``)."""

    store_name = "result store: sqlite"
    # Its statements bind and read whole results: none kept (preparing one takes microseconds;
    # a kept one held the last result saved or read, 5 MiB for an hour's).
    cached_statements = 0

    async def _create_schema(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
                video_id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                interview_id TEXT,
                applicant_id TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                result TEXT NOT NULL
            )"""
        )
        for column in ("status", "interview_id", "applicant_id", "created_at"):
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS ix_{RESULTS_TABLE}_{column} "
                f"ON {RESULTS_TABLE} ({column})"
            )
        await conn.commit()

    async def save_result(self, result: AnalysisResult, body: bytes | None = None) -> None:
        await self._connection()  # the file and its table exist
        row = (
            result.video_id,
            result.status.value,
            result.metadata.interview_id,
            result.metadata.applicant_id,
            result.created_at.isoformat(),
            _utcnow().isoformat(),
        )
        try:
            await asyncio.to_thread(
                _write_result, self.path, row, body if body is not None else body_of(result)
            )
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"result store unavailable: {exc}") from exc
        log.info("stored %s result for video %s", result.status.value, result.video_id)

    async def get_result_body(self, video_id: str) -> bytes | None:
        """The stored result's JSON bytes, exactly as saved (``result_ref.sha256`` is their
        hash)."""
        conn = await self._connection()
        try:
            async with conn.execute(
                f"SELECT CAST(result AS BLOB) FROM {RESULTS_TABLE} WHERE video_id = ?",
                (video_id,),
            ) as cursor:
                row = await cursor.fetchone()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"result store unavailable: {exc}") from exc
        return None if row is None else bytes(row[0])

    async def interview_language(self, interview_id: str) -> str | None:
        """The language the interview's analysed answers were spoken in (``main_language``);
        None before any."""
        conn = await self._connection()
        try:
            async with conn.execute(
                f"SELECT {_SQLITE_LANGUAGE_COLUMNS} FROM {RESULTS_TABLE} "
                "WHERE interview_id = ? AND status <> 'failed'",
                (interview_id,),
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"result store unavailable: {exc}") from exc
        return main_language([tuple(row) for row in rows])

    async def delete_result(self, video_id: str) -> bool:
        """Remove the video's result; whether there was one."""
        conn = await self._connection()
        try:
            cursor = await conn.execute(
                f"DELETE FROM {RESULTS_TABLE} WHERE video_id = ?", (video_id,)
            )
            deleted = cursor.rowcount
            await cursor.close()
            await conn.commit()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"result store unavailable: {exc}") from exc
        return deleted > 0


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB


def parse_mysql_url(url: str) -> dict[str, Any]:
    """``mysql://user:pass@host:port/db`` -> keyword arguments for ``aiomysql``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mysql+aiomysql", "mariadb"):
        raise ValueError(f"database_url must start with mysql://, not {parts.scheme}://")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError("database_url must name a database: mysql://user:pass@host:port/db")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "db": database,
    }


class MySQLResultStore(_ReadsResults):
    """Results in MySQL/MariaDB through an ``aiomysql`` pool; parameterised queries only."""

    def __init__(
        self,
        url: str,
        *,
        connect_attempts: int = 10,
        connect_timeout_s: float = 5.0,
        pool_size: int = 5,
    ) -> None:
        self._params = parse_mysql_url(url)
        self._connect_attempts = connect_attempts
        self._connect_timeout_s = connect_timeout_s
        self._pool_size = pool_size
        self._pool: Any = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never show the password
        p = self._params
        return f"MySQLResultStore({p['user']}@{p['host']}:{p['port']}/{p['db']})"

    async def _create_pool(self) -> Any:
        import aiomysql

        return await aiomysql.create_pool(
            minsize=1,
            maxsize=self._pool_size,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=self._connect_timeout_s,
            pool_recycle=3600,
            **self._params,
        )

    async def start(self, *, attempts: int | None = None) -> None:
        async with self._lock:
            if self._pool is not None:
                return
            pool = await retry_connect(
                self._create_pool,
                what=repr(self),
                attempts=attempts if attempts is not None else self._connect_attempts,
            )
            try:
                await self._create_schema(pool)
            except BaseException:
                pool.close()
                await pool.wait_closed()
                raise
            self._pool = pool
            log.info("result store: %r", self)

    @staticmethod
    async def _create_schema(pool: Any) -> None:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
                    video_id VARCHAR(128) NOT NULL PRIMARY KEY,
                    status VARCHAR(16) NOT NULL,
                    interview_id VARCHAR(255) NULL,
                    applicant_id VARCHAR(255) NULL,
                    created_at DATETIME(6) NOT NULL,
                    updated_at DATETIME(6) NOT NULL,
                    result LONGTEXT NOT NULL,
                    INDEX ix_status (status),
                    INDEX ix_interview_id (interview_id),
                    INDEX ix_applicant_id (applicant_id),
                    INDEX ix_created_at (created_at),
                    INDEX ix_updated_at (updated_at)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
            )

    async def close(self) -> None:
        async with self._lock:
            if self._pool is not None:
                self._pool.close()
                await self._pool.wait_closed()
                self._pool = None

    async def _get_pool(self) -> Any:
        if self._pool is None:
            # Reconnect lazily (one attempt) if the database was down at start.
            try:
                await self.start(attempts=1)
            except Exception as exc:
                raise StoreUnavailable(f"result database unreachable: {exc}") from exc
        return self._pool

    async def _run(
        self, sql: str, args: tuple[Any, ...], *, rowcount: bool = False, every: bool = False
    ) -> Any:
        """The first row of ``sql``'s answer (``every``: all rows; ``rowcount``: how many rows
        it changed)."""
        import aiomysql

        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(sql, args)
                if rowcount:
                    return cur.rowcount
                return await (cur.fetchall() if every else cur.fetchone())
        except (aiomysql.OperationalError, aiomysql.InterfaceError, OSError) as exc:
            raise StoreUnavailable(f"result database unavailable: {exc}") from exc

    async def ping(self) -> None:
        await self._run("SELECT 1", ())

    async def save_result(self, result: AnalysisResult, body: bytes | None = None) -> None:
        await self._run(
            f"""INSERT INTO {RESULTS_TABLE}
                (video_id, status, interview_id, applicant_id, created_at, updated_at, result)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON DUPLICATE KEY UPDATE
                status = VALUES(status),
                interview_id = VALUES(interview_id),
                applicant_id = VALUES(applicant_id),
                created_at = VALUES(created_at),
                updated_at = VALUES(updated_at),
                result = VALUES(result)""",
            (
                result.video_id,
                result.status.value,
                result.metadata.interview_id,
                result.metadata.applicant_id,
                _naive_utc(result.created_at),
                _naive_utc(_utcnow()),
                _text(result, body),
            ),
        )
        log.info("stored %s result for video %s", result.status.value, result.video_id)

    async def get_result_body(self, video_id: str) -> bytes | None:
        """The stored result's JSON bytes, exactly as saved (``result_ref.sha256`` is their
        hash)."""
        row = await self._run(
            f"SELECT result FROM {RESULTS_TABLE} WHERE video_id = %s", (video_id,)
        )
        return None if row is None else str(row[0]).encode()

    async def interview_language(self, interview_id: str) -> str | None:
        """The language the interview's analysed answers were spoken in (``main_language``);
        None before any."""
        rows = await self._run(
            f"SELECT {_MYSQL_LANGUAGE_COLUMNS} FROM {RESULTS_TABLE} "
            "WHERE interview_id = %s AND status <> 'failed'",
            (interview_id,),
            every=True,
        )
        return main_language([tuple(row) for row in rows])

    async def delete_result(self, video_id: str) -> bool:
        """Remove the video's result; whether there was one."""
        deleted = await self._run(
            f"DELETE FROM {RESULTS_TABLE} WHERE video_id = %s", (video_id,), rowcount=True
        )
        return bool(deleted)


def create_result_store(settings: Settings) -> ResultStore:
    """MySQL when ``database_url`` is set, else the embedded SQLite file in ``data_dir``."""
    if settings.database_url is not None:
        return MySQLResultStore(settings.database_url.get_secret_value())
    return SQLiteResultStore(embedded_db_path(settings))

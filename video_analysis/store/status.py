"""Per-video status (queued, processing with progress, complete, partial, failed).

Redis when ``settings.redis_url`` is set, else a table in the embedded SQLite file that the API
and the workers share. Either way a terminal state (complete, partial, failed) is never
overwritten by a late non-terminal update, and ``deleted`` by nothing: the check and the write
are one atomic step.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite

from ..schemas import ModelLoad, VideoState, VideoStatus
from ..settings import Settings
from .connect import StoreUnavailable, retry_connect
from .results import embedded_db_path
from .sqlite import SQLiteStore

log = logging.getLogger(__name__)

TERMINAL_STATES: frozenset[VideoState] = frozenset(
    {VideoState.COMPLETE, VideoState.PARTIAL, VideoState.FAILED, VideoState.DELETED}
)
STATUS_TABLE = "video_status"
MODEL_LOADS_TABLE = "model_loads"


class StatusStore(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def set_status(self, status: VideoStatus) -> None: ...
    async def claim(self, status: VideoStatus) -> bool: ...
    async def claim_run(self, status: VideoStatus) -> bool: ...
    async def get_status(self, video_id: str) -> VideoStatus | None: ...
    async def delete_status(self, video_id: str) -> None: ...
    async def in_flight(self) -> list[VideoStatus]: ...
    async def report_model_loads(self, loads: list[ModelLoad]) -> None: ...
    async def model_loads(self, max_age_s: float) -> list[ModelLoad]: ...


def _fresh(loads: list[ModelLoad], max_age_s: float) -> list[ModelLoad]:
    """Reports a worker renewed within ``max_age_s``; older ones are of workers gone."""
    now = datetime.now(UTC)
    return [load for load in loads if (now - load.reported_at).total_seconds() <= max_age_s]


def _log_ignored(status: VideoStatus) -> None:
    log.info(
        "ignored late %s status for video %s: it already has a final state",
        status.state.value,
        status.video_id,
    )


# --------------------------------------------------------------------------------------------
# The rule, in Python: what the Redis scripts and the embedded store's upserts implement (both
# are tested against these on every pair of states and runs).


def replaces(current: VideoStatus | None, new: VideoStatus) -> bool:
    """Whether ``set_status(new)`` writes over ``current``: a deleted video stays deleted;
    deletion wins whatever the run; a newer run wins and an older one never does; within a
    run, a final state is never replaced by one that is not."""
    if current is None:
        return True
    if current.state is VideoState.DELETED:
        return False
    if new.state is VideoState.DELETED:
        return True
    if new.run != current.run:
        return new.run > current.run
    return current.state not in TERMINAL_STATES or new.state in TERMINAL_STATES


def starts_run(current: VideoStatus | None, new: VideoStatus) -> bool:
    """Whether ``claim_run(new)`` writes over ``current``: only over a final status of an
    older run that is not deleted (or over none)."""
    if current is None:
        return True
    return (
        current.state is not VideoState.DELETED
        and current.state in TERMINAL_STATES
        and current.run < new.run
    )


# --------------------------------------------------------------------------------------------
# Redis

#: How Redis begins the error of a connection it refuses: protected mode (no password set, a
#: client from another host), a missing or wrong password, an ACL that forbids a command.
REFUSALS = ("DENIED", "NOAUTH", "WRONGPASS", "NOPERM")

# KEYS[1] = status key; ARGV = new JSON, new state, TTL seconds, new run, terminal states...
# Returns 1 when written, 0 when kept, as ``replaces`` says.
_SET_STATUS_LUA = """
local current = redis.call('GET', KEYS[1])
local new_terminal = false
local current_terminal = false
local current_run = 0
local new_run = tonumber(ARGV[4]) or 0
for i = 5, #ARGV do
  if ARGV[i] == ARGV[2] then new_terminal = true end
end
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' then
    if doc['state'] == 'deleted' then return 0 end
    current_run = tonumber(doc['run']) or 0
    for i = 5, #ARGV do
      if doc['state'] == ARGV[i] then current_terminal = true end
    end
  end
  if ARGV[2] ~= 'deleted' then
    if new_run < current_run then return 0 end
    if new_run == current_run and current_terminal and not new_terminal then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[3]))
return 1
"""


# KEYS[1] = status key; ARGV = new JSON, TTL seconds, new run, terminal states...
# Starts a new run as ``starts_run`` says. Returns 1 when written, 0 when another run is in
# flight, newer, or deleted.
_CLAIM_RUN_LUA = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if not ok or type(doc) ~= 'table' then return 0 end
  if doc['state'] == 'deleted' then return 0 end
  if (tonumber(doc['run']) or 0) >= (tonumber(ARGV[3]) or 0) then return 0 end
  local terminal = false
  for i = 4, #ARGV do
    if doc['state'] == ARGV[i] then terminal = true end
  end
  if not terminal then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1
"""


class RedisStatusStore:
    """Status as JSON under ``{prefix}video:{id}:status`` with a TTL."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        ttl_s: int = 7 * 24 * 3600,
        connect_attempts: int = 10,
        timeout_s: float = 5.0,
    ) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self.ttl_s = ttl_s
        self._connect_attempts = connect_attempts
        self._client: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, decode_responses=True
        )
        self._set_script: Any = self._client.register_script(_SET_STATUS_LUA)
        self._claim_run_script: Any = self._client.register_script(_CLAIM_RUN_LUA)

    def key(self, video_id: str) -> str:
        return f"{self.prefix}video:{video_id}:status"

    async def start(self) -> None:
        await retry_connect(self._client.ping, what="redis", attempts=self._connect_attempts)
        log.info("status store: redis (prefix %r)", self.prefix)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, coro: Any) -> Any:
        import redis.exceptions

        try:
            return await coro
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc
        except redis.exceptions.ResponseError as exc:
            # A server that refuses this client (protected mode, a password or an ACL the URL
            # lacks) is as unusable as one that is down, and says why.
            if str(exc).startswith(REFUSALS):
                raise StoreUnavailable(f"redis refused the connection: {exc}") from exc
            raise

    async def ping(self) -> None:
        await self._call(self._client.ping())

    async def set_status(self, status: VideoStatus) -> None:
        written = await self._call(
            self._set_script(
                keys=[self.key(status.video_id)],
                args=[
                    status.model_dump_json(),
                    status.state.value,
                    self.ttl_s,
                    status.run,
                    *(state.value for state in TERMINAL_STATES),
                ],
            )
        )
        if not written:
            _log_ignored(status)

    async def claim(self, status: VideoStatus) -> bool:
        """Write ``status`` only if the video has none yet; whether it was written."""
        written = await self._call(
            self._client.set(
                self.key(status.video_id), status.model_dump_json(), ex=self.ttl_s, nx=True
            )
        )
        return bool(written)

    async def claim_run(self, status: VideoStatus) -> bool:
        """Start ``status.run``: written only over a final status of an older run (or none),
        atomically, so that of two concurrent reprocess calls one wins."""
        written = await self._call(
            self._claim_run_script(
                keys=[self.key(status.video_id)],
                args=[
                    status.model_dump_json(),
                    self.ttl_s,
                    status.run,
                    *(state.value for state in TERMINAL_STATES),
                ],
            )
        )
        return bool(written)

    async def get_status(self, video_id: str) -> VideoStatus | None:
        raw = await self._call(self._client.get(self.key(video_id)))
        return None if raw is None else VideoStatus.model_validate_json(raw)

    async def delete_status(self, video_id: str) -> None:
        await self._call(self._client.delete(self.key(video_id)))

    async def in_flight(self) -> list[VideoStatus]:
        """Every video still queued or processing (a SCAN over this prefix's status keys)."""
        found = []
        pattern = f"{self.prefix}video:*:status"
        async for key in self._client.scan_iter(match=pattern, count=500):
            raw = await self._call(self._client.get(key))
            if raw is not None:
                status = VideoStatus.model_validate_json(raw)
                if status.state not in TERMINAL_STATES:
                    found.append(status)
        return found

    def _loads_key(self) -> str:
        return f"{self.prefix}models:loaded"

    async def report_model_loads(self, loads: list[ModelLoad]) -> None:
        if loads:
            mapping = {f"{load.name}|{load.worker}": load.model_dump_json() for load in loads}
            await self._call(self._client.hset(self._loads_key(), mapping=mapping))

    async def model_loads(self, max_age_s: float) -> list[ModelLoad]:
        raw = await self._call(self._client.hgetall(self._loads_key()))
        loads = [ModelLoad.model_validate_json(value) for value in raw.values()]
        fresh = _fresh(loads, max_age_s)
        stale = [f"{load.name}|{load.worker}" for load in loads if load not in fresh]
        if stale:
            await self._call(self._client.hdel(self._loads_key(), *stale))
        return fresh


# --------------------------------------------------------------------------------------------
# Embedded (SQLite, shared with the result store's file)


# A row's run, and the incoming row's, in the embedded table's upserts.
_OLD_RUN = f"COALESCE(json_extract({STATUS_TABLE}.status, '$.run'), 0)"
_NEW_RUN = "COALESCE(json_extract(excluded.status, '$.run'), 0)"


class EmbeddedStatusStore(SQLiteStore):
    """Status in a table of the embedded SQLite file (WAL), shared by API and workers."""

    store_name = "status store: embedded sqlite"
    # A status holds the transcript so far (a megabyte or two an hour in): no statement kept
    # with the last one written in its buffers (``SQLiteStore.cached_statements``).
    cached_statements = 0

    async def _create_schema(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {STATUS_TABLE} (
                video_id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                terminal INTEGER NOT NULL,
                updated_at TEXT NOT NULL,
                status TEXT NOT NULL
            )"""
        )
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {MODEL_LOADS_TABLE} (
                name TEXT NOT NULL,
                worker TEXT NOT NULL,
                reported_at TEXT NOT NULL,
                report TEXT NOT NULL,
                PRIMARY KEY (name, worker)
            )"""
        )
        await conn.commit()

    async def set_status(self, status: VideoStatus) -> None:
        # One statement: the WHERE of the upsert is ``replaces``, atomically even across
        # processes.
        written = await self._upsert(
            status,
            f"""{STATUS_TABLE}.state != 'deleted' AND (
                excluded.state = 'deleted'
                OR {_NEW_RUN} > {_OLD_RUN}
                OR ({_NEW_RUN} = {_OLD_RUN}
                    AND ({STATUS_TABLE}.terminal = 0 OR excluded.terminal = 1)))""",
        )
        if not written:
            _log_ignored(status)

    async def claim(self, status: VideoStatus) -> bool:
        """Write ``status`` only if the video has none yet; whether it was written."""
        return await self._upsert(status, None) == 1

    async def claim_run(self, status: VideoStatus) -> bool:
        """Start ``status.run``: written only over a final status of an older run (or none),
        in one statement, so that of two concurrent reprocess calls one wins."""
        where = (
            f"{STATUS_TABLE}.state != 'deleted' AND {STATUS_TABLE}.terminal = 1 "
            f"AND {_OLD_RUN} < {_NEW_RUN}"
        )
        return await self._upsert(status, where) == 1

    async def _upsert(self, status: VideoStatus, where: str | None) -> int:
        """Insert ``status``, or replace the stored row where ``where`` holds (None: never);
        the number of rows written."""
        on_conflict = (
            "DO NOTHING"
            if where is None
            else f"""DO UPDATE SET
                state = excluded.state,
                terminal = excluded.terminal,
                updated_at = excluded.updated_at,
                status = excluded.status
            WHERE {where}"""
        )
        conn = await self._connection()
        try:
            cursor = await conn.execute(
                f"""INSERT INTO {STATUS_TABLE} (video_id, state, terminal, updated_at, status)
                VALUES (?, ?, ?, ?, ?) ON CONFLICT(video_id) {on_conflict}""",
                _row(status),
            )
            written = int(cursor.rowcount)
            await cursor.close()
            await conn.commit()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc
        return written

    async def get_status(self, video_id: str) -> VideoStatus | None:
        conn = await self._connection()
        try:
            async with conn.execute(
                f"SELECT status FROM {STATUS_TABLE} WHERE video_id = ?", (video_id,)
            ) as cursor:
                row = await cursor.fetchone()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc
        return None if row is None else VideoStatus.model_validate_json(row[0])

    async def in_flight(self) -> list[VideoStatus]:
        """Every video still queued or processing."""
        conn = await self._connection()
        try:
            async with conn.execute(
                f"SELECT status FROM {STATUS_TABLE} WHERE terminal = 0"
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc
        return [VideoStatus.model_validate_json(row[0]) for row in rows]

    async def delete_status(self, video_id: str) -> None:
        conn = await self._connection()
        try:
            await conn.execute(f"DELETE FROM {STATUS_TABLE} WHERE video_id = ?", (video_id,))
            await conn.commit()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc

    async def report_model_loads(self, loads: list[ModelLoad]) -> None:
        conn = await self._connection()
        try:
            await conn.executemany(
                f"""INSERT INTO {MODEL_LOADS_TABLE} (name, worker, reported_at, report)
                VALUES (?, ?, ?, ?)
                ON CONFLICT(name, worker) DO UPDATE SET
                    reported_at = excluded.reported_at, report = excluded.report""",
                [
                    (load.name, load.worker, load.reported_at.isoformat(), load.model_dump_json())
                    for load in loads
                ],
            )
            await conn.commit()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc

    async def model_loads(self, max_age_s: float) -> list[ModelLoad]:
        conn = await self._connection()
        try:
            async with conn.execute(f"SELECT report FROM {MODEL_LOADS_TABLE}") as cursor:
                rows = await cursor.fetchall()
            loads = [ModelLoad.model_validate_json(row[0]) for row in rows]
            fresh = _fresh(loads, max_age_s)
            for load in loads:
                if load not in fresh:
                    await conn.execute(
                        f"DELETE FROM {MODEL_LOADS_TABLE} WHERE name = ? AND worker = ?",
                        (load.name, load.worker),
                    )
            await conn.commit()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"status store unavailable: {exc}") from exc
        return fresh


def _row(status: VideoStatus) -> tuple[str, str, int, str, str]:
    """A status as the embedded table's (video_id, state, terminal, updated_at, status)."""
    return (
        status.video_id,
        status.state.value,
        int(status.state in TERMINAL_STATES),
        status.updated_at.isoformat(),
        status.model_dump_json(),
    )


def create_status_store(settings: Settings) -> StatusStore:
    """Redis when ``redis_url`` is set, else the embedded SQLite file in ``data_dir``.

    Redis keys are prefixed with ``settings.topic_prefix`` so tests and tenants stay apart.
    """
    if settings.redis_url is not None:
        return RedisStatusStore(
            settings.redis_url.get_secret_value(),
            prefix=settings.topic_prefix,
            ttl_s=settings.status_ttl_s,
        )
    return EmbeddedStatusStore(embedded_db_path(settings))

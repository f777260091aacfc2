"""Result and status stores against real MariaDB and Redis on localhost, and the embedded ones."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from video_analysis.errors import SourceNotAllowed, SourceNotFound, UploadTooLarge
from video_analysis.schemas import (
    AnalysisResult,
    ResultStatus,
    SpeechSection,
    VideoState,
    VideoStatus,
)
from video_analysis.schemas.events import ErrorInfo, VideoMetadata
from video_analysis.settings import Settings
from video_analysis.store import (
    EmbeddedStatusStore,
    MySQLResultStore,
    RedisStatusStore,
    ResultStore,
    SQLiteResultStore,
    StatusStore,
    StoreUnavailable,
    UploadStorage,
    create_result_store,
    create_status_store,
)
from video_analysis.store.status import replaces, starts_run

pytestmark = pytest.mark.integration

MYSQL_ADMIN = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_URL = "redis://127.0.0.1:6379/0"
CLOSED_PORT = 1  # nothing listens there


async def _mysql_admin(sql: str) -> None:
    import aiomysql

    try:
        conn = await aiomysql.connect(**MYSQL_ADMIN, connect_timeout=3)
    except Exception as exc:  # pragma: no cover - environment
        pytest.skip(f"MariaDB not reachable on 127.0.0.1:3306: {exc}")
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@asynccontextmanager
async def scratch_mysql_database() -> AsyncIterator[str]:
    """A fresh database per test, dropped afterwards; yields its URL."""
    database = f"va_test_{uuid.uuid4().hex[:12]}"
    await _mysql_admin(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
    try:
        yield f"mysql://root:@127.0.0.1:3306/{database}"
    finally:
        await _mysql_admin(f"DROP DATABASE IF EXISTS {database}")


@asynccontextmanager
async def scratch_redis_prefix() -> AsyncIterator[str]:
    """A random key prefix; every key under it is deleted afterwards."""
    import redis.asyncio as aioredis

    prefix = f"va-test-{uuid.uuid4().hex[:12]}:"
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment
        await client.aclose()
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with scratch_redis_prefix() as prefix:
        yield prefix


@pytest.fixture(params=["sqlite", "mysql"])
async def result_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ResultStore]:
    async with AsyncExitStack() as stack:
        store: ResultStore
        if request.param == "mysql":
            url = await stack.enter_async_context(scratch_mysql_database())
            store = MySQLResultStore(url, connect_attempts=2)
        else:
            store = SQLiteResultStore(tmp_path / "results.sqlite3")
        await store.start()
        stack.push_async_callback(store.close)
        yield store


@pytest.fixture(params=["embedded", "redis"])
async def status_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StatusStore]:
    async with AsyncExitStack() as stack:
        store: StatusStore
        if request.param == "redis":
            prefix = await stack.enter_async_context(scratch_redis_prefix())
            store = RedisStatusStore(REDIS_URL, prefix=prefix, ttl_s=120, connect_attempts=2)
        else:
            store = EmbeddedStatusStore(tmp_path / "results.sqlite3")
        await store.start()
        stack.push_async_callback(store.close)
        yield store


def _result(video_id: str, status: ResultStatus, **extra: Any) -> AnalysisResult:
    return AnalysisResult(
        video_id=video_id,
        status=status,
        metadata=VideoMetadata(interview_id="int-1", applicant_id="app-ü"),
        **extra,
    )


# ---------------------------------------------------------------------------------- results


async def test_result_round_trip(result_store: ResultStore) -> None:
    result = _result("vid-1", ResultStatus.COMPLETE, timings={"total": 1.5}, note="日本語 ✓")
    await result_store.save_result(result)

    loaded = await result_store.get_result("vid-1")
    assert loaded == result
    assert loaded is not None and loaded.model_extra == {"note": "日本語 ✓"}
    assert await result_store.get_result("other") is None
    await result_store.ping()


async def test_a_deleted_result_is_gone(result_store: ResultStore) -> None:
    await result_store.save_result(_result("vid-d", ResultStatus.COMPLETE))
    assert await result_store.delete_result("vid-d") is True
    assert await result_store.get_result("vid-d") is None
    assert await result_store.delete_result("vid-d") is False


async def test_redelivered_result_overwrites_without_duplicates(
    result_store: ResultStore,
) -> None:
    await result_store.save_result(_result("vid-2", ResultStatus.PARTIAL, missing=["speech"]))
    await result_store.save_result(_result("vid-2", ResultStatus.COMPLETE))
    await result_store.save_result(_result("vid-2", ResultStatus.COMPLETE))

    loaded = await result_store.get_result("vid-2")
    assert loaded is not None
    assert loaded.status is ResultStatus.COMPLETE
    assert loaded.missing == []
    assert await _count_rows(result_store, "vid-2") == 1


async def test_an_interviews_language_is_that_of_most_of_its_answers(
    result_store: ResultStore,
) -> None:
    """The language the interview's complete answers were given or heard in, weighted by
    their audio: a language itself taken from the interview or the default is no evidence."""
    interview = f"int-{uuid.uuid4().hex[:8]}"

    def answer(video_id: str, language: str, source: str, audio_s: float, **extra: Any) -> Any:
        return AnalysisResult(
            video_id=f"{interview}-{video_id}",
            status=extra.pop("status", ResultStatus.COMPLETE),
            metadata=VideoMetadata(interview_id=interview),
            speech=SpeechSection(language=language, language_source=source, audio_s=audio_s),
        )

    assert await result_store.interview_language(interview) is None
    await result_store.save_result(answer("a", "ko", "detected", 20.0))
    await result_store.save_result(answer("b", "en", "detected", 12.0))
    await result_store.save_result(answer("c", "en", "metadata", 6.0))
    await result_store.save_result(answer("d", "en", "default", 60.0))
    await result_store.save_result(answer("e", "en", "interview", 60.0))
    await result_store.save_result(answer("f", "en", "detected", 60.0, status=ResultStatus.FAILED))
    assert await result_store.interview_language(interview) == "ko"
    await result_store.save_result(answer("g", "en", "detected", 3.0))
    assert await result_store.interview_language(interview) == "en"
    assert await result_store.interview_language("another interview") is None


async def _count_rows(store: ResultStore, video_id: str) -> int:
    if isinstance(store, SQLiteResultStore):
        conn = await store._connection()
        async with conn.execute(
            "SELECT COUNT(*) FROM analysis_results WHERE video_id = ?", (video_id,)
        ) as cur:
            row = await cur.fetchone()
    else:
        assert isinstance(store, MySQLResultStore)
        row = await store._run(
            "SELECT COUNT(*) FROM analysis_results WHERE video_id = %s", (video_id,)
        )
    assert row is not None
    return int(row[0])


async def test_sqlite_results_are_shared_between_connections(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    writer, reader = SQLiteResultStore(path), SQLiteResultStore(path)
    await writer.start()
    await reader.start()
    try:
        await writer.save_result(_result("shared", ResultStatus.FAILED))
        loaded = await reader.get_result("shared")
        assert loaded is not None and loaded.status is ResultStatus.FAILED
    finally:
        await writer.close()
        await reader.close()


async def test_sqlite_keeps_the_bytes_saved_and_reads_rows_stored_as_text(tmp_path: Path) -> None:
    """The result is written into its row as the JSON bytes given (read back the same, so
    their sha256 is the claim check's); a row an earlier version stored as text is read as
    before, and both count for the interview's language."""
    import sqlite3

    from video_analysis.claim_check import body_of

    store = SQLiteResultStore(tmp_path / "results.sqlite3")
    try:
        new = _result(
            "new",
            ResultStatus.COMPLETE,
            speech=SpeechSection(language="ko", language_source="detected", audio_s=30.0),
            note="한국어 ✓ " * 20_000,  # several of the chunks the row is written in
        )
        body = body_of(new)
        await store.save_result(new, body)
        assert await store.get_result_body("new") == body
        assert await store.get_result("new") == new

        old = _result(
            "old",
            ResultStatus.COMPLETE,
            speech=SpeechSection(language="en", language_source="detected", audio_s=40.0),
        )
        db = sqlite3.connect(store.path)
        with db:
            db.execute(
                "INSERT INTO analysis_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                ("old", "complete", "int-1", None, "2026", "2026", body_of(old).decode()),
            )
        db.close()
        assert await store.get_result_body("old") == body_of(old)
        assert await store.interview_language("int-1") == "en"
        await store.save_result(old.model_copy(update={"video_id": "new"}))
        loaded = await store.get_result("new")
        assert loaded is not None and loaded.speech.language == "en"
        assert await _count_rows(store, "new") == 1
    finally:
        await store.close()


async def test_mysql_on_a_wrong_port_is_unavailable() -> None:
    store = MySQLResultStore(f"mysql://root:@127.0.0.1:{CLOSED_PORT}/test", connect_attempts=1)
    with pytest.raises(Exception):  # noqa: B017 - the driver's connection error
        await store.start()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get_result("x")
    await store.close()


def test_factories_pick_embedded_or_services(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path)
    assert isinstance(create_result_store(embedded), SQLiteResultStore)
    assert isinstance(create_status_store(embedded), EmbeddedStatusStore)
    services = Settings(
        data_dir=tmp_path,
        database_url="mysql://u:p@db:3306/va",
        redis_url="redis://cache:6379/0",
        topic_prefix="t1-",
    )
    mysql = create_result_store(services)
    assert isinstance(mysql, MySQLResultStore)
    assert "p@" not in repr(mysql)
    redis_store = create_status_store(services)
    assert isinstance(redis_store, RedisStatusStore)
    assert redis_store.key("v1") == "t1-video:v1:status"


# ----------------------------------------------------------------------------------- status


async def test_status_round_trip(status_store: StatusStore) -> None:
    status = VideoStatus(video_id="s1", state=VideoState.PROCESSING, progress=0.25)
    await status_store.set_status(status)
    assert await status_store.get_status("s1") == status
    assert await status_store.get_status("unknown") is None
    await status_store.ping()

    await status_store.delete_status("s1")
    assert await status_store.get_status("s1") is None


async def test_only_one_of_concurrent_claims_wins(status_store: StatusStore) -> None:
    claims = [VideoStatus(video_id="c1", state=VideoState.QUEUED) for _ in range(5)]
    won = await asyncio.gather(*(status_store.claim(status) for status in claims))
    assert sorted(won) == [False, False, False, False, True]
    assert (await status_store.get_status("c1")) == claims[won.index(True)]
    # Once deleted (a refused upload), the id can be claimed again.
    await status_store.delete_status("c1")
    assert await status_store.claim(claims[0])


async def test_a_new_run_starts_only_over_a_final_older_run(status_store: StatusStore) -> None:
    def run(number: int) -> VideoStatus:
        return VideoStatus(video_id="r1", state=VideoState.QUEUED, run=number)

    assert await status_store.claim_run(run(1))  # nothing stored (status expired): starts
    assert not await status_store.claim_run(run(2))  # run 1 is in flight
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.PARTIAL, run=1))
    assert not await status_store.claim_run(run(1))  # not newer
    won = await asyncio.gather(*(status_store.claim_run(run(2)) for _ in range(5)))
    assert sorted(won) == [False, False, False, False, True]
    stored = await status_store.get_status("r1")
    assert stored is not None and (stored.state, stored.run) == (VideoState.QUEUED, 2)
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.DELETED, run=2))
    assert not await status_store.claim_run(run(3))  # deleted stays deleted


async def test_a_deleted_video_stays_deleted(status_store: StatusStore) -> None:
    await status_store.set_status(VideoStatus(video_id="d1", state=VideoState.PROCESSING))
    await status_store.set_status(VideoStatus(video_id="d1", state=VideoState.DELETED))
    for late in (VideoState.PROCESSING, VideoState.COMPLETE, VideoState.FAILED):
        await status_store.set_status(VideoStatus(video_id="d1", state=late))
    stored = await status_store.get_status("d1")
    assert stored is not None and stored.state == VideoState.DELETED
    assert not await status_store.claim(VideoStatus(video_id="d1", state=VideoState.QUEUED))


async def test_progress_updates_overwrite(status_store: StatusStore) -> None:
    await status_store.set_status(VideoStatus(video_id="s2", state=VideoState.QUEUED))
    await status_store.set_status(
        VideoStatus(video_id="s2", state=VideoState.PROCESSING, progress=0.5)
    )
    loaded = await status_store.get_status("s2")
    assert loaded is not None
    assert (loaded.state, loaded.progress) == (VideoState.PROCESSING, 0.5)


@pytest.mark.parametrize("final", [VideoState.COMPLETE, VideoState.PARTIAL, VideoState.FAILED])
async def test_terminal_state_is_not_overwritten_by_late_processing(
    status_store: StatusStore, final: VideoState
) -> None:
    error = ErrorInfo(code="unreadable_media", message="x") if final is VideoState.FAILED else None
    done = VideoStatus(video_id="s3", state=final, progress=1.0, error=error)
    await status_store.set_status(done)
    for late in (VideoState.PROCESSING, VideoState.QUEUED):
        await status_store.set_status(VideoStatus(video_id="s3", state=late, progress=0.9))

    assert await status_store.get_status("s3") == done


async def test_terminal_state_can_be_replaced_by_another_terminal_state(
    status_store: StatusStore,
) -> None:
    await status_store.set_status(VideoStatus(video_id="s4", state=VideoState.PARTIAL))
    await status_store.set_status(VideoStatus(video_id="s4", state=VideoState.COMPLETE))
    loaded = await status_store.get_status("s4")
    assert loaded is not None and loaded.state is VideoState.COMPLETE


async def test_a_newer_run_replaces_a_final_status_and_an_older_run_never_does(
    status_store: StatusStore,
) -> None:
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.PARTIAL))
    # A reprocess: run 1 starts over a final run 0.
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.QUEUED, run=1))
    loaded = await status_store.get_status("r1")
    assert loaded is not None and (loaded.state, loaded.run) == (VideoState.QUEUED, 1)
    # Run 0's late words (or a late final) do not come back over it.
    for late in (VideoState.PROCESSING, VideoState.COMPLETE):
        await status_store.set_status(VideoStatus(video_id="r1", state=late, run=0))
    loaded = await status_store.get_status("r1")
    assert loaded is not None and (loaded.state, loaded.run) == (VideoState.QUEUED, 1)
    # Within run 1 the usual rule: final is kept against late progress.
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.COMPLETE, run=1))
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.PROCESSING, run=1))
    loaded = await status_store.get_status("r1")
    assert loaded is not None and (loaded.state, loaded.run) == (VideoState.COMPLETE, 1)
    # Deletion wins whatever the run.
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.DELETED))
    await status_store.set_status(VideoStatus(video_id="r1", state=VideoState.QUEUED, run=2))
    loaded = await status_store.get_status("r1")
    assert loaded is not None and loaded.state is VideoState.DELETED


async def test_redis_status_has_a_ttl(redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    store = RedisStatusStore(REDIS_URL, prefix=redis_prefix, ttl_s=120)
    await store.start()
    try:
        await store.set_status(VideoStatus(video_id="ttl", state=VideoState.QUEUED))
        client = aioredis.Redis.from_url(REDIS_URL)
        ttl = await client.ttl(f"{redis_prefix}video:ttl:status")
        await client.aclose()
        assert 0 < ttl <= 120
    finally:
        await store.close()


async def test_redis_on_a_wrong_port_is_unavailable() -> None:
    store = RedisStatusStore(f"redis://127.0.0.1:{CLOSED_PORT}/0", connect_attempts=1)
    with pytest.raises(Exception):  # noqa: B017 - the client's connection error
        await store.start()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.set_status(VideoStatus(video_id="x", state=VideoState.QUEUED))
    await store.close()


async def test_embedded_status_is_shared_between_connections(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    api, worker = EmbeddedStatusStore(path), EmbeddedStatusStore(path)
    try:
        await api.set_status(VideoStatus(video_id="e1", state=VideoState.QUEUED))
        await worker.set_status(VideoStatus(video_id="e1", state=VideoState.COMPLETE))
        await api.set_status(VideoStatus(video_id="e1", state=VideoState.PROCESSING))
        loaded = await api.get_status("e1")
        assert loaded is not None and loaded.state is VideoState.COMPLETE
    finally:
        await api.close()
        await worker.close()


# ---------------------------------------------------------------------------------- uploads


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_upload_storage_saves_and_resolves(tmp_path: Path) -> None:
    storage = UploadStorage(tmp_path / "up")
    path = await storage.save_stream("v1", "../../My Answer (1).mp4", _chunks(b"ab", b"cd"), 10)
    assert path == storage.root / "v1" / "My_Answer_1_.mp4"
    assert path.read_bytes() == b"abcd"
    assert storage.resolve(str(path)) == path
    assert storage.resolve(path.as_uri()) == path
    assert storage.resolve("v1/My_Answer_1_.mp4") == path
    assert [p.name for p in (storage.root / "v1").iterdir()] == ["My_Answer_1_.mp4"]


async def test_upload_storage_aborts_over_the_limit(tmp_path: Path) -> None:
    storage = UploadStorage(tmp_path / "up")
    with pytest.raises(UploadTooLarge, match="10 bytes"):
        await storage.save_stream("v2", "a.mp4", _chunks(b"123456", b"789012"), 10)
    assert not (storage.root / "v2").exists()


async def test_upload_storage_refuses_paths_outside_root(tmp_path: Path) -> None:
    storage = UploadStorage(tmp_path / "up")
    await storage.save_stream("v3", "a.mp4", _chunks(b"x"), 10)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"s")
    (storage.root / "v3" / "link.mp4").symlink_to(secret)

    for uri in (
        str(secret),
        secret.as_uri(),
        str(storage.root / "v3" / ".." / ".." / "secret.mp4"),
        str(storage.root / "v3" / "link.mp4"),
        "file://otherhost/etc/passwd",
        "http://example.com/a.mp4",
        "/etc/passwd",
    ):
        with pytest.raises(SourceNotAllowed):
            storage.resolve(uri)
    with pytest.raises(SourceNotFound):
        storage.resolve(str(storage.root / "v3" / "missing.mp4"))
    with pytest.raises(SourceNotFound):
        storage.resolve(str(storage.root / "v3"))


async def test_embedded_stores_opening_a_new_file_together_do_not_fail(tmp_path: Path) -> None:
    # Switching a new file to WAL races between connections ("database is locked").
    for attempt in range(20):
        path = tmp_path / f"fresh-{attempt}.sqlite3"
        results, status = SQLiteResultStore(path), EmbeddedStatusStore(path)
        try:
            await asyncio.gather(results.ping(), status.ping())
        finally:
            await results.close()
            await status.close()


# ------------------------------------------------------------------------------ model loads


async def test_model_loads_reported_by_workers_are_read_back_fresh_only(
    status_store: StatusStore,
) -> None:
    from datetime import UTC, datetime, timedelta

    from video_analysis.schemas import ModelLoad

    fresh = ModelLoad(name="whisper-base", worker="speech@h:1", load_time_s=0.8, device="cpu")
    old = ModelLoad(
        name="fer-emotion",
        worker="face@h:2",
        load_time_s=6.5,
        device="cpu",
        reported_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    await status_store.report_model_loads([fresh, old])
    assert await status_store.model_loads(max_age_s=60) == [fresh]
    # A renewed report replaces the worker's previous one, never duplicates it.
    renewed = fresh.model_copy(update={"reported_at": datetime.now(UTC)})
    await status_store.report_model_loads([renewed])
    assert await status_store.model_loads(max_age_s=60) == [renewed]
    # The stale report was dropped, so a generous age does not bring it back.
    assert await status_store.model_loads(max_age_s=3600) == [renewed]


#: Every pair of a stored status and an update: each state, in the same, an older and a newer run.
PAIRS = [
    (VideoStatus(video_id="x", state=old, run=1), VideoStatus(video_id="x", state=new, run=run))
    for old, new, run in itertools.product(VideoState, VideoState, (0, 1, 2))
]


async def test_set_status_follows_the_reference_rule(status_store: StatusStore) -> None:
    for number, (current, new) in enumerate(PAIRS):
        video_id = f"rule-{number}"
        await status_store.set_status(current.model_copy(update={"video_id": video_id}))
        await status_store.set_status(new.model_copy(update={"video_id": video_id}))
        stored = await status_store.get_status(video_id)
        expected = new if replaces(current, new) else current
        assert stored is not None
        assert (stored.state, stored.run) == (expected.state, expected.run), (current, new)


async def test_claim_run_follows_the_reference_rule(status_store: StatusStore) -> None:
    for number, (current, new) in enumerate(PAIRS):
        video_id = f"claim-{number}"
        await status_store.set_status(current.model_copy(update={"video_id": video_id}))
        claimed = await status_store.claim_run(new.model_copy(update={"video_id": video_id}))
        assert claimed is starts_run(current, new), (current, new)
    assert await status_store.claim_run(VideoStatus(video_id="none", state=VideoState.QUEUED))
    assert starts_run(None, VideoStatus(video_id="none", state=VideoState.QUEUED))

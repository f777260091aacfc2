"""What the workers do when Redis or the database is down: wait for what must not be lost,
shrug off what the next write replaces."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.private_servers import PrivateRedis
from video_analysis.schemas import VideoState
from video_analysis.settings import Settings
from video_analysis.store.connect import StoreUnavailable
from video_analysis.streams import metrics
from video_analysis.streams import wiring as streams_app


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> streams_app.Services:
    monkeypatch.setattr(streams_app, "RETRY_MIN_S", 0.001)
    monkeypatch.setattr(streams_app, "RETRY_MAX_S", 0.004)
    return streams_app.Services(Settings())


async def test_a_write_that_must_not_be_lost_waits_for_the_store(
    services: streams_app.Services, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[int] = []

    async def write() -> str:
        tries.append(len(tries))
        if len(tries) <= 12:
            raise StoreUnavailable("redis unavailable: connection refused")
        return "saved"

    before = metrics.STORE_WAITS.labels("result")._value.get()  # noqa: SLF001
    with caplog.at_level(logging.INFO):
        assert await services.until_stored("result", "vid-1", write) == "saved"
    assert len(tries) == 13
    assert metrics.STORE_WAITS.labels("result")._value.get() - before == 12  # noqa: SLF001
    waits = [r.getMessage() for r in caplog.records if "waits for the store" in r.getMessage()]
    # The first failure and then every tenth: an outage of hours does not flood the log.
    assert len(waits) == 2 and "vid-1" in waits[0] and "try 1" in waits[0]
    assert any("stored after 12 failed tries" in r.getMessage() for r in caplog.records)


async def test_other_errors_are_not_retried(services: streams_app.Services) -> None:
    calls = 0

    async def write() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        await services.until_stored("result", "vid-1", write)
    assert calls == 1


async def test_progress_is_not_worth_waiting_for(
    services: streams_app.Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def down(*_: object, **__: object) -> None:
        raise StoreUnavailable("redis unavailable: connection refused")

    monkeypatch.setattr(services, "set_status", down)
    await services.show_status("vid-2", VideoState.PROCESSING, progress=0.5)
    assert any("vid-2" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


async def test_a_store_that_cannot_start_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from video_analysis.store.status import RedisStatusStore

    monkeypatch.setattr(
        streams_app,
        "create_status_store",
        lambda _settings: RedisStatusStore("redis://127.0.0.1:1/0", connect_attempts=1),
    )
    with pytest.raises(StoreUnavailable, match="status store unreachable"):
        await streams_app.Services(Settings()).status()


def outside_address() -> str | None:
    """An IPv4 address of this machine other than loopback (None when it has none)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_a_redis_that_refuses_this_client_is_unavailable_and_says_why(
    tmp_path: Path,
) -> None:
    """A Redis without a password in protected mode answers a client from another address
    with DENIED (as a worker host met it): the status store is unavailable (503 at the API, a
    wait in the workers) with Redis's reason, not an internal error. A password the URL lacks
    is refused the same way."""
    from video_analysis.store.status import RedisStatusStore

    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    server = PrivateRedis(tmp_path, host=address)
    server.start()
    try:
        store = RedisStatusStore(server.url, connect_attempts=1)
        with pytest.raises(StoreUnavailable, match="redis refused the connection: DENIED"):
            await store.get_status("v1")
        await store.close()
    finally:
        server.stop()
    locked = PrivateRedis(tmp_path, options=("--requirepass", "not-in-the-url"))
    locked.start()
    try:
        store = RedisStatusStore(locked.url, connect_attempts=1)
        with pytest.raises(StoreUnavailable, match="authenticated"):
            await store.get_status("v1")
        await store.close()
    finally:
        locked.stop()

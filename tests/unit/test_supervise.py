"""dev's supervision: a role that exits is started again with backoff; and the reconciliation
that publishes again (or fails) what a lost broker had in flight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from video_analysis.schemas import VideoState, VideoStatus, VideoUploaded
from video_analysis.settings import Settings
from video_analysis.store import EmbeddedStatusStore, Sources, SQLiteResultStore
from video_analysis.supervise import FIRST_BACKOFF_S, HEALTHY_AFTER_S, Supervisor


def exiting() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])


def sleeping() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_children_killed_now_stay_down_until_started_again() -> None:
    """When the embedded broker dies, dev kills the workers at once and starts them only once
    the new broker has its topics: a held child is not restarted by ``poll``."""
    said: list[str] = []
    supervisor = Supervisor(said.append)
    face, api = supervisor.add("face", sleeping), supervisor.add("api", sleeping)
    killed = face.process
    try:
        supervisor.kill_now({"face"})
        assert killed is not None and killed.returncode == -9
        assert face.process is None and api.process is not None and api.process.poll() is None
        assert supervisor.poll(face.started_at + 3600) == [] and face.process is None
        supervisor.restart_now({"face"})
        assert face.process is not None and face.process.poll() is None and face.restarts == 1
    finally:
        supervisor.stop(last=set())


def test_a_child_that_exits_is_restarted_after_a_backoff_that_grows_then_resets() -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    child = supervisor.add("face", exiting)
    assert child.process is not None
    child.process.wait()
    start = child.started_at

    assert [c.name for c in supervisor.poll(start + 1)] == ["face"]
    assert said[-1] == "face exited (3); restarting in 1 s"
    supervisor.poll(start + 1 + FIRST_BACKOFF_S / 2)
    assert child.restarts == 0  # not yet
    supervisor.poll(start + 1 + FIRST_BACKOFF_S)
    assert child.restarts == 1 and said[-1] == "face restarted (restart 1)"

    # Dying again at once doubles the wait; after a healthy run it is back to the first.
    child.process.wait()
    supervisor.poll(child.started_at + 0.1)
    assert said[-1] == "face exited (3); restarting in 2 s"
    supervisor.poll(child.started_at + 0.1 + 2)
    child.process.wait()
    supervisor.poll(child.started_at + HEALTHY_AFTER_S + 1)
    assert said[-1] == "face exited (3); restarting in 1 s"
    supervisor.stop(last=set())


def test_a_worker_waits_out_its_predecessors_session_before_its_first_restart() -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    child = supervisor.add("join", exiting, first_backoff_s=10.0)
    assert child.process is not None
    child.process.wait()
    supervisor.poll(child.started_at + 1)
    assert said[-1] == "join exited (3); restarting in 10 s"
    supervisor.poll(child.started_at + 1 + 9.9)
    assert child.restarts == 0
    supervisor.poll(child.started_at + 1 + 10)
    assert child.restarts == 1
    child.process.wait()
    supervisor.poll(child.started_at + 0.1)
    assert said[-1] == "join exited (3); restarting in 20 s"
    child.restart_at = None  # not restarted by this test again
    supervisor.stop(last=set())


class Recorder:
    def __init__(self) -> None:
        self.published: list[VideoUploaded] = []

    async def publish_upload(self, event: VideoUploaded) -> None:
        self.published.append(event)


async def test_reconcile_publishes_again_what_is_kept_and_fails_what_is_gone(
    tmp_path: Path,
) -> None:
    from video_analysis.reconcile import reconcile

    settings = Settings(data_dir=tmp_path / "data", upload_root=tmp_path / "uploads")
    sources = Sources(settings)
    local = settings.upload_root / "kept" / "a.mp4"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"video")
    event = VideoUploaded(video_id="kept", uri=sources.keep_upload("kept", local))
    sources.keep_event(event)
    db = tmp_path / "results.sqlite3"
    status, results = EmbeddedStatusStore(db), SQLiteResultStore(db)
    await status.start()
    await results.start()
    try:
        for video_id, state in (
            ("kept", VideoState.PROCESSING),
            ("gone", VideoState.QUEUED),
            ("done", VideoState.COMPLETE),
        ):
            await status.set_status(VideoStatus(video_id=video_id, state=state))
        publisher = Recorder()
        done = await reconcile(status=status, results=results, sources=sources, publisher=publisher)
        assert (done.republished, done.failed) == (["kept"], ["gone"])
        assert publisher.published == [event]
        kept = await status.get_status("kept")
        assert kept is not None and kept.state == VideoState.QUEUED
        gone = await status.get_status("gone")
        assert gone is not None and gone.state == VideoState.FAILED
        assert gone.error is not None and gone.error.code == "interrupted"
        stored = await results.get_result("gone")
        assert stored is not None and stored.error is not None
        assert stored.error.code == "interrupted"
        assert (await status.get_status("done")).state == VideoState.COMPLETE  # type: ignore[union-attr]
    finally:
        await status.close()
        await results.close()

"""How ``analyze`` schedules its work: every analyzer's models load at once, each analyzer's
parts wait for its own models only, and a message is decoded once for all its analyzers
unless keeping its frames would mean holding them for a model still loading."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from tests.media_factory import make_clip
from video_analysis import pipeline
from video_analysis.schemas import PartialResult
from video_analysis.settings import Settings


def test_parts_do_not_wait_for_another_analyzers_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", duration=4.0, audio="sine", fps=10)
    real_get = pipeline.get_analyzer
    lock = threading.Lock()
    loaded_at: dict[str, float] = {}

    def get(name: str, settings: Settings) -> Any:
        if name == "speech":  # its models take 2 s more to load
            with lock:
                if name not in loaded_at:
                    time.sleep(2.0)
                    loaded_at[name] = time.monotonic()
        return real_get(name, settings)

    ran: list[tuple[str, str, float]] = []
    real_run = pipeline.run_analyzer

    def run(analyzer: Any, decoded: Any, **kwargs: Any) -> tuple[PartialResult, Any]:
        ran.append((analyzer.name, type(decoded).__name__, time.monotonic()))
        return real_run(analyzer, decoded, **kwargs)

    monkeypatch.setattr(pipeline, "get_analyzer", get)
    monkeypatch.setattr(pipeline, "run_analyzer", run)
    # One analysis thread: a part waiting for models must not hold it.
    settings = Settings(frame_analyzers=["quality"], audio_analyzers=["speech"], worker_threads=1)
    result = pipeline.analyze_file(clip, settings)

    assert result.status.value == "complete"
    frames = [t for name, kind, t in ran if kind == "DecodedFrames"]
    speech = [t for name, kind, t in ran if name == "speech"]
    # Every frame batch was analysed while the speech models were still loading.
    assert frames and speech and max(frames) < loaded_at["speech"] <= min(speech)


def test_a_message_is_decoded_once_for_all_its_analyzers(monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[int] = []
    monkeypatch.setattr(pipeline, "decode_part", lambda message: decodes.append(1) or object())
    monkeypatch.setattr(pipeline, "get_analyzer", lambda name, settings: name)
    monkeypatch.setattr(pipeline, "run_analyzer", lambda analyzer, decoded, **_: (analyzer, None))
    message = _frames_message()

    def loaded() -> Future[None]:
        ready: Future[None] = Future()
        ready.set_result(None)
        return ready

    part = pipeline._Part(message, {"a": loaded(), "b": loaded(), "c": loaded()}, Settings())
    for name in ("a", "b", "c"):
        part.analyze(name)
    assert len(decodes) == 1

    # One of them still loading: the frames are not kept for it, it decodes again later.
    decodes.clear()
    loading: Future[None] = Future()
    part = pipeline._Part(message, {"a": loaded(), "b": loading}, Settings())
    part.analyze("a")
    loading.set_result(None)
    part.analyze("b")
    assert len(decodes) == 2


def _frames_message() -> Any:
    from video_analysis.schemas import FrameBatch

    return FrameBatch(video_id="v", batch_index=0, sample_fps=5.0, frames=[])

"""The whole analysis in one process, without a broker (``video-analysis analyze PATH``).

It runs exactly the code the agents run: ``split_video`` produces the same messages, each goes
through the same JSON round trip and decoding, the same analyzers, and ``build_result``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .analyzers.base import DecodedAudio, DecodedFrames
from .analyzers.registry import get_analyzer, validate_plan
from .analyzers.runner import part_source, run_analyzer
from .assemble import build_result, failed_result
from .errors import error_info
from .media.codec import decode_part
from .media.splitter import split_video
from .schemas import (
    AnalysisResult,
    AnalyzerPlan,
    AudioChunk,
    FrameBatch,
    PartialResult,
    PartSource,
    VideoMetadata,
    VideoUploaded,
)
from .settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


def analyze_file(
    path: Path,
    settings: Settings,
    *,
    video_id: str | None = None,
    metadata: VideoMetadata | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse a local file; a file that cannot be analysed gives a ``failed`` result."""
    # The file as an upload: the same event the API publishes, so that the same manifest
    # (truncation included) comes of it.
    upload = VideoUploaded(
        video_id=video_id or uuid.uuid4().hex,
        uri=str(path),
        filename=path.name,
        metadata=metadata or VideoMetadata(),
    )
    video_id = upload.video_id
    validate_plan(settings.frame_analyzers, settings.audio_analyzers)
    plan = AnalyzerPlan(frames=list(settings.frame_analyzers), audio=list(settings.audio_analyzers))
    parts: list[PartialResult] = []
    started = time.monotonic()
    # A pool per source, as the service has a worker per role: in one shared pool the audio
    # chunks, which come first, held every thread for the first half of a dense 60 s clip,
    # and the frames (pose takes one batch at a time) finished alone on 1.3 cores after it.
    with (
        ThreadPoolExecutor(settings.analysis_threads, thread_name_prefix="frames") as frames,
        ThreadPoolExecutor(settings.analysis_threads, thread_name_prefix="audio") as audio,
    ):
        pools = {PartSource.FRAMES: frames, PartSource.AUDIO: audio}
        loaded = {
            name: _load(name, settings) for name in dict.fromkeys([*plan.frames, *plan.audio])
        }
        tasks: list[Future[PartialResult]] = []
        try:
            generator = split_video(path, video_id, settings, language=upload.metadata.language)
            while True:
                try:
                    message = next(generator)
                except StopIteration as stop:
                    summary = stop.value
                    break
                source, _ = part_source(message)
                names = plan.frames if source is PartSource.FRAMES else plan.audio
                part = _Part(message, {name: loaded[name] for name in names}, settings)
                tasks.extend(
                    _when_loaded(loaded[name], pools[source], part.analyze, name) for name in names
                )
            split_s = time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - same decision as the splitter agent
            for task in tasks:
                task.cancel()
            info = error_info(exc)
            if info.code == "internal_error":
                log.exception("analysis failed video_id=%s", video_id)
            return failed_result(video_id, info)
        for done, task in enumerate(tasks, start=1):
            # Through JSON, as on the broker: data that would not survive Kafka fails here too.
            parts.append(PartialResult.model_validate_json(task.result().model_dump_json()))
            if progress is not None:
                progress("analyze", done / len(tasks))
    return build_result(summary.manifest(upload, plan, split_s), parts, settings=settings)


def _load(name: str, settings: Settings) -> Future[None]:
    """Load ``name``'s models now, in a thread of its own, while the video is being split.

    Each analyzer's parts wait for its own models only: loading on first use, one message
    (every analyzer of it) at a time, had both analysis threads waiting for the speech models
    (seconds) while the frames piled up. A model that fails to load here is tried again, and
    its failure reported, by the parts that need it."""
    ready: Future[None] = Future()

    def load() -> None:
        try:
            get_analyzer(name, settings)
        except Exception as exc:  # noqa: BLE001 - reported by the parts that need it
            log.debug("loading %s failed: %s", name, exc)
        ready.set_result(None)

    threading.Thread(target=load, name=f"load-{name}", daemon=True).start()
    return ready


def _when_loaded(
    ready: Future[None], pool: ThreadPoolExecutor, run: Callable[[str], PartialResult], name: str
) -> Future[PartialResult]:
    """``run(name)`` on ``pool`` once ``ready`` is done; its future."""
    result: Future[PartialResult] = Future()

    def submit(_: Future[None]) -> None:
        if not result.set_running_or_notify_cancel():
            return  # cancelled: the split failed
        try:
            task = pool.submit(run, name)
        except RuntimeError as exc:  # the pool is shut down
            result.set_exception(exc)
            return
        task.add_done_callback(lambda done: _copy_outcome(done, result))

    ready.add_done_callback(submit)
    return result


def _copy_outcome(done: Future[PartialResult], to: Future[PartialResult]) -> None:
    error = done.exception()
    if error is not None:
        to.set_exception(error)
    else:
        to.set_result(done.result())


class _Part:
    """One message of the split and the analyzers still to run on it. It is decoded once for
    all of them, and the frames are kept between them only while every analyzer still to run
    has its models loaded: one still loading would otherwise hold every batch's frames."""

    def __init__(
        self,
        message: FrameBatch | AudioChunk,
        loaded: dict[str, Future[None]],
        settings: Settings,
    ) -> None:
        # The JSON round trip keeps this path identical to what crosses the broker.
        self.message = type(message).model_validate_json(message.model_dump_json())
        self._pending = dict(loaded)
        self._settings = settings
        self._decoded: DecodedFrames | DecodedAudio | None = None
        self._lock = threading.Lock()

    def analyze(self, name: str) -> PartialResult:
        with self._lock:
            decoded = self._decoded or decode_part(self.message)
            self._pending.pop(name, None)
            keep = bool(self._pending) and all(f.done() for f in self._pending.values())
            self._decoded = decoded if keep else None
        analyzer = get_analyzer(name, self._settings)
        part, failure = run_analyzer(analyzer, decoded, video_id=self.message.video_id)
        if failure is not None:
            log.error(
                "analyzer %s failed video_id=%s", name, self.message.video_id, exc_info=failure
            )
        return part

"""The splitter agent: an upload event in, audio chunks, frame batches and a manifest out."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from faust.types import StreamT
from pydantic import ValidationError

from ..media.splitter import split_video
from ..retention import expire_uploads
from ..schemas import (
    AnalyzerPlan,
    FrameBatch,
    MediaInfo,
    SplitManifest,
    VideoState,
    VideoUploaded,
)
from ..store import Sources
from . import metrics
from .delivery import transient
from .topics import (
    VIDEO_AUDIO,
    VIDEO_FRAMES,
    VIDEO_MANIFESTS,
    VIDEO_UPLOADED,
)
from .wiring import Wiring, message_key, message_value, patiently

log = logging.getLogger(__name__)

_DONE = object()


def add_splitter(wiring: Wiring) -> None:
    app, settings, services = wiring.app, wiring.settings, wiring.services
    sources = Sources(settings)
    plan = AnalyzerPlan(frames=list(settings.frame_analyzers), audio=list(settings.audio_analyzers))

    async def publish_manifest(manifest: SplitManifest) -> None:
        await wiring.publish(VIDEO_MANIFESTS, manifest.video_id, manifest)

    if settings.retention_days is not None:
        retention_days = settings.retention_days

        @app.timer(interval=settings.retention_check_interval_s)  # type: ignore[untyped-decorator]
        async def expire() -> None:
            try:
                await expire_uploads(
                    retention_days,
                    sources=sources,
                    status=await services.status(),
                    results=await services.results(),
                    now=datetime.now(UTC),
                )
            except Exception as exc:  # noqa: BLE001 - tried again at the next interval
                log.warning("retention check failed: %s", exc)

    @app.agent(wiring.topics[VIDEO_UPLOADED], name="splitter")
    async def splitter(stream: StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            video_id = message_key(message)
            try:
                upload = VideoUploaded.model_validate_json(message_value(message))
                video_id = upload.video_id
            except ValidationError as exc:
                record = await wiring.reject("splitter", message, video_id, exc)
                if video_id:
                    await publish_manifest(SplitManifest(video_id=video_id, error=record.error))
                continue
            if (newer := await _newer_run(wiring, upload)) is not None:
                log.info(
                    "video_id=%s run %d not split: run %d replaced it",
                    video_id,
                    upload.run,
                    newer,
                )
                continue
            started = time.monotonic()
            try:
                await services.show_status(
                    video_id, VideoState.PROCESSING, progress=0.0, run=upload.run
                )
                summary = await _split_until_sent(wiring, sources, upload)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a failed result
                record = await wiring.reject("splitter", message, video_id, exc)
                # What the probe saw (a too-long or too-large video) still describes the file.
                media = getattr(exc, "media", None) or MediaInfo()
                await publish_manifest(
                    SplitManifest(
                        video_id=video_id,
                        run=upload.run,
                        uri=upload.uri,
                        metadata=upload.metadata,
                        media=media,
                        error=record.error,
                        submitted_at=upload.submitted_at,
                    )
                )
                continue
            manifest = summary.manifest(upload, plan, split_s=time.monotonic() - started)
            await publish_manifest(manifest)
            await _keep_event(sources, upload)
            metrics.observe(wiring.role, "split", manifest.split_s)
            log.info(
                "split video_id=%s frames=%d batches=%d audio_chunks=%d in %.1fs",
                video_id,
                summary.frames_sampled,
                summary.frame_batches,
                summary.audio_chunks,
                manifest.split_s,
            )


async def _newer_run(wiring: Wiring, upload: VideoUploaded) -> int | None:
    """The run that replaced ``upload``'s, when the status store says one did: the join
    published a stuck video again while its first event was still waiting for the splitter
    (or a reprocess came first). Splitting the old run would be work the join ignores. None
    when the store cannot say: the video is then split."""
    try:
        current = await (await wiring.services.status()).get_status(upload.video_id)
    except Exception as exc:  # noqa: BLE001 - the split goes on: the join drops an old run
        log.warning("no status of video_id=%s before its split: %s", upload.video_id, exc)
        return None
    if current is not None and current.run > upload.run:
        return current.run
    return None


async def _keep_event(sources: Sources, upload: VideoUploaded) -> None:
    """Keep the event of a video that could be split beside its upload (the API does so for
    its own uploads; this covers events the platform published) when none is kept yet:
    ``reprocess`` and the reconciliation after a restart publish it again."""
    try:
        if not await asyncio.to_thread(sources.has_kept_event, upload.video_id):
            await asyncio.to_thread(sources.keep_event, upload.model_copy(update={"run": 0}))
    except Exception as exc:  # noqa: BLE001 - only reprocess needs it; the split goes on
        log.warning("could not keep the event of video_id=%s: %s", upload.video_id, exc)


async def _interview_language(wiring: Wiring, upload: VideoUploaded) -> str | None:
    """The language of the upload's interview over its answers analysed so far, when the
    upload names an interview and no language: a short answer is read in it (the speech
    analyzer's language rule). None when there is none, or the result store cannot say."""
    metadata = upload.metadata
    if metadata.language or not metadata.interview_id or wiring.settings.speech_language:
        return None
    try:
        results = await wiring.services.results()
        return await results.interview_language(metadata.interview_id)
    except Exception as exc:  # noqa: BLE001 - the language is then detected, as without one
        log.warning(
            "no interview language for video_id=%s (interview %s): %s",
            upload.video_id,
            metadata.interview_id,
            exc,
        )
        return None


async def _split_until_sent(wiring: Wiring, sources: Sources, upload: VideoUploaded) -> Any:
    """:func:`_split_and_publish`, split again when the broker failed a send for a passing
    reason (a restarted broker that lost its topics answers ``UnknownError`` until they are
    created again): the broker's trouble is not the video's, so it never fails the video. The
    batches sent twice count once (the join keeps a part once)."""
    return await patiently(
        lambda: _split_and_publish(wiring, sources, upload),
        passing=transient,
        what=f"split of video_id={upload.video_id}",
        waits_for="broker",
        done="sent",
        counted=lambda _exc: None,
    )


async def _split_and_publish(wiring: Wiring, sources: Sources, upload: VideoUploaded) -> Any:
    """Fetch and decode in a thread and publish each batch as it is ready; wait for every ack.
    A downloaded copy (s3://, https://) is removed when the split is done."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)
    video_id = upload.video_id
    interview_language = await _interview_language(wiring, upload)

    def produce() -> Any:
        try:
            with sources.local_copy(upload.uri) as path:
                generator = split_video(
                    path,
                    video_id,
                    wiring.settings,
                    language=upload.metadata.language,
                    interview_language=interview_language,
                )
                while True:
                    try:
                        item = next(generator)
                    except StopIteration as stop:
                        return stop.value
                    asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop).result()

    producing = loop.run_in_executor(wiring.services.pool, produce)
    pending = []
    while (item := await queue.get()) is not _DONE:
        item.run = upload.run
        if isinstance(item, FrameBatch):
            topic, key = wiring.topics[VIDEO_FRAMES], f"{video_id}:{item.batch_index}"
        else:
            topic, key = wiring.topics[VIDEO_AUDIO], f"{video_id}:{item.chunk_index}"
        # Keyed per batch, not per video, so the batches of one long video spread over
        # partitions and several analyzer workers share them.
        pending.append(await topic.send(key=key.encode(), value=item.model_dump_json().encode()))
    summary = await producing
    # Offsets are committed only after the output is produced: wait for every ack before
    # this event counts as processed.
    await asyncio.gather(*pending)
    return summary

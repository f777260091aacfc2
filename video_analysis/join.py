"""The join's decisions as a pure state machine: one video's state, one message, the time.

:func:`apply` takes the state kept for a video, the manifest, part or deadline that arrived,
and the clock, and returns the new state and what to do: keep a new part, wait, build the
result (every part in, the manifest failed, or the deadline passed) or fail the video because
the splitter never finished it. The Faust agent (``streams/join_agent.py``) only moves
messages, tables and stores around it, and calls :func:`video_analysis.assemble.build_result`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field, ValidationError

from .analyzers.speech.transcript import stitch, unique_chunks
from .schemas import (
    JoinDeadline,
    JoinDelete,
    PartialResult,
    PartSource,
    SplitManifest,
    TranscriptPreview,
    part_key,
)
from .schemas.parts import SpeechPart
from .schemas.result import PartialSegment


class JoinState(BaseModel):
    """What the join keeps per video (in a Faust table, as JSON)."""

    run: int = Field(0, ge=0, description="The analysis run held (see VideoUploaded.run).")
    first_seen: float | None = Field(None, description="When the first message arrived.")
    manifest: SplitManifest | None = None
    manifest_at: float | None = None
    received: list[str] = Field(default_factory=list, description="Part keys, each once.")
    finalized: bool = False
    status: str | None = Field(None, description="The final result's status.")
    finalized_at: float | None = None
    previews: dict[str, list[PartialSegment]] = Field(
        default_factory=dict,
        description="Words of chunks transcribed whose speech part is not in yet, by chunk.",
    )

    def live_transcript(self, heard: Sequence[PartialSegment] = ()) -> list[PartialSegment]:
        """What the status shows: ``heard`` (the transcript of the speech parts in) and the
        preview words of the chunks whose part is still on its way, in time order.

        The parts' transcript is not kept here: the state is written to its changelog on
        every message, and with an hour's transcript in it that was most of the join's work
        (quadratic in the video's length)."""
        previewed = [segment for words in self.previews.values() for segment in words]
        return sorted([*heard, *previewed], key=lambda s: (s.start, s.end))

    def progress(self) -> float:
        """Share of the expected parts received (0 before the manifest)."""
        if self.manifest is None:
            return 0.0
        expected = self.manifest.expected_parts()
        if not expected:
            return 1.0
        return round(len(expected & set(self.received)) / len(expected), 4)

    def stages(self) -> dict[str, float]:
        """Share done per stage: ``split`` (1 once the manifest is in), ``analyze.<name>`` (its
        parts received) and ``join`` (1 once the result is out); empty before the manifest,
        when no count is known."""
        if self.manifest is None:
            return {}
        expected = self.manifest.expected_parts()
        received = set(self.received)
        names = sorted({key.split(":", 1)[0] for key in expected})
        shares = {"split": 1.0}
        for name in names:
            own = {key for key in expected if key.startswith(f"{name}:")}
            shares[f"analyze.{name}"] = round(len(own & received) / len(own), 4)
        shares["join"] = 0.0
        return shares

    def final_stages(self) -> dict[str, float]:
        """The stages once the result is out: the join done, the analyzers as far as they got
        (a partial result lacks some of their parts)."""
        return {**self.stages(), "join": 1.0}


class Action(StrEnum):
    IGNORE = "ignore"  # a late message for a finalised video
    WAIT = "wait"  # keep the state; more parts to come
    BUILD = "build"  # build the result from the manifest and the parts received
    SPLIT_INCOMPLETE = "split_incomplete"  # parts came, the manifest never did
    DELETE = "delete"  # the video was deleted: drop its parts, keep only a marker


@dataclass(frozen=True)
class Step:
    state: JoinState
    action: Action
    #: A part not received before, to keep with the state (None for duplicates and the rest).
    new_part: PartialResult | None = None
    #: Part keys of an older run that a newer run replaced: to forget.
    dropped: tuple[str, ...] = ()


def apply(
    state: JoinState | None,
    item: SplitManifest | PartialResult | JoinDeadline | JoinDelete,
    now: float,
    deadline_s: float,
) -> Step:
    """The join's next step for one message of a video.

    A video's result is built when every expected part is in, at once when its manifest says
    the split failed, or on a deadline message once ``deadline_s`` has passed since the
    manifest. Without a manifest, a deadline after twice ``deadline_s`` since the first part
    fails the video. Parts delivered twice count once; anything after the result is ignored.
    """
    current = state or JoinState()
    if isinstance(item, JoinDelete):
        # Also after the result: the result is deleted too. Only a marker without any of the
        # video's data stays, so that its late parts are ignored.
        deleted = JoinState(
            run=current.run,
            first_seen=current.first_seen or now,
            finalized=True,
            status="deleted",
            finalized_at=now,
        )
        return Step(deleted, Action.DELETE)
    if current.status == "deleted":
        return Step(current, Action.IGNORE)
    dropped: tuple[str, ...] = ()
    if not isinstance(item, JoinDeadline):
        opened = _open_run(current, item.run)
        if opened is None:
            return Step(current, Action.IGNORE)
        current, dropped = opened
    if current.finalized:
        return Step(current, Action.IGNORE)
    new = current.model_copy(deep=True)
    if new.first_seen is None:
        new.first_seen = now
    new_part = None
    if isinstance(item, SplitManifest):
        new.manifest = item
        new.manifest_at = now
    elif isinstance(item, PartialResult) and item.part_key not in new.received:
        new.received.append(item.part_key)
        new_part = item
        if item.analyzer == "speech":
            new.previews.pop(str(item.index), None)
    if new.manifest is not None:
        if new.manifest.error is not None or new.manifest.expected_parts() <= set(new.received):
            return Step(new, Action.BUILD, new_part, dropped)
        overdue = new.manifest_at is not None and now - new.manifest_at >= deadline_s
        if isinstance(item, JoinDeadline) and overdue:
            return Step(new, Action.BUILD, new_part, dropped)
    elif isinstance(item, JoinDeadline) and now - new.first_seen >= 2 * deadline_s:
        return Step(new, Action.SPLIT_INCOMPLETE, new_part, dropped)
    return Step(new, Action.WAIT, new_part, dropped)


def _open_run(current: JoinState, run: int) -> tuple[JoinState, tuple[str, ...]] | None:
    """The state a message of ``run`` applies to, and the part keys of the older run it
    replaces (a reprocess starts afresh); None for a message of an older run."""
    if run < current.run:
        return None
    if run > current.run:
        return JoinState(run=run), tuple(current.received)
    return current, ()


def add_preview(state: JoinState | None, item: TranscriptPreview, now: float) -> JoinState | None:
    """The state with a chunk's preview words; None when they are no news (the video is
    final, or the chunk's speech part is already in)."""
    current = state or JoinState()
    speech_part = part_key("speech", PartSource.AUDIO, item.chunk_index)
    if current.status == "deleted":
        return None
    if item.run != current.run and not (item.run > current.run and current.finalized):
        return None
    if item.run > current.run:
        current = JoinState(run=item.run)  # the first news of a reprocess
    if current.finalized or speech_part in current.received:
        return None
    new = current.model_copy(deep=True)
    if new.first_seen is None:
        new.first_seen = now
    new.previews[str(item.chunk_index)] = list(item.segments)
    return new


def finalized(state: JoinState, status: str, now: float) -> JoinState:
    """The small marker kept once a video's result is out: late parts are then ignored."""
    return JoinState(
        run=state.run, first_seen=state.first_seen, finalized=True, status=status, finalized_at=now
    )


def overdue(state: JoinState, now: float, deadline_s: float) -> bool:
    """Whether the deadline timer should ask the join to finalise this video."""
    if state.finalized:
        return False
    if state.manifest_at is not None:
        return now - state.manifest_at >= deadline_s
    first = state.first_seen if state.first_seen is not None else now
    return now - first >= 2 * deadline_s


def partial_transcript(
    parts: list[PartialResult], max_compression_ratio: float
) -> list[PartialSegment]:
    """The transcript of the speech parts received so far, in time order, as the final result
    will have it (the same stitching and hallucination filter), without speakers yet. A part
    whose data does not fit is left out here; the result reports it."""
    chunks = []
    for part in parts:
        if part.analyzer != "speech" or part.error is not None:
            continue
        try:
            chunks.append(SpeechPart.model_validate(part.data))
        except ValidationError:
            continue
    segments, _dropped = stitch(unique_chunks(chunks), max_compression_ratio)
    return [PartialSegment(start=s.start, end=s.end, text=s.text) for s in segments]

"""The join's decisions as a pure state machine: one video's state, one message, the time.

:func:`apply` takes the state kept for a video, the manifest, part or deadline that arrived,
the clock and the join's :class:`Patience`, and returns the new state and what to do: keep a
new part, wait, build the result (every part in, or the manifest failed), or, for a video that
is stuck, analyse it again as its next run (``HEAL``) and, once that was tried enough, build
what is there or fail the video because the splitter never finished it. The Faust agent
(``streams/join_agent.py``) only moves messages, tables and stores around it, and calls
:func:`video_analysis.assemble.build_result`.

A video is *stuck* when nothing of it has come for ``Patience.quiet_s`` and it has had more
time than its length needs (:meth:`Patience.budget_s`): a slow video whose parts keep coming
is never taken for a stuck one, and a lost manifest or a lost part is noticed at a time that
grows with the video, not after a fixed wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import median

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
    last_seen: float | None = Field(
        None, description="When the last message that was news arrived (a part, a preview)."
    )
    heals: int = Field(
        0, ge=0, description="Runs the join started itself because this video was stuck."
    )
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

    def media_s(self) -> float | None:
        """Seconds of video to analyse, once the manifest says (None before)."""
        if self.manifest is None:
            return None
        media = self.manifest.media
        return self.manifest.analysed_s or media.duration_s

    def stuck_on(self) -> str:
        """What a stuck video waits for, in the join's log."""
        return "no manifest" if self.manifest is None else "parts missing"

    def final_stages(self) -> dict[str, float]:
        """The stages once the result is out: the join done, the analyzers as far as they got
        (a partial result lacks some of their parts)."""
        return {**self.stages(), "join": 1.0}


#: Least seconds of video a finished video must have for its pace to count in the measured
#: rate (a short clip's time is mostly fixed costs: it says little of a long one's).
MIN_MEASURED_MEDIA_S = 30.0
#: Finished videos whose pace the join remembers.
MEASURED_VIDEOS = 20


@dataclass(frozen=True)
class Patience:
    """How long the join gives a video before it judges it stuck, and what it does then."""

    #: Time every video gets from its first message, whatever its length.
    floor_s: float
    #: Time allowed per second of video on top of ``floor_s``.
    per_media_s: float
    #: A video is stuck only when nothing of it has come for this long.
    quiet_s: float
    #: Times a stuck video is published again as its next run before the join gives up.
    heal_runs: int

    def budget_s(self, media_s: float | None) -> float:
        """Time a video of ``media_s`` seconds gets (only ``floor_s`` while its length is
        unknown: before its manifest)."""
        return self.floor_s + (media_s or 0.0) * self.per_media_s

    def stuck(self, state: JoinState, now: float) -> bool:
        """Whether ``state``'s video waits for what is not coming: quiet, and past its
        budget."""
        if state.finalized or state.first_seen is None:
            return False
        last = state.last_seen if state.last_seen is not None else state.first_seen
        return now - last >= self.quiet_s and now - state.first_seen >= self.budget_s(
            state.media_s()
        )


def per_media_s(paces: Iterable[float], default: float, margin: float) -> float:
    """Time to allow per second of video: ``margin`` times the median pace measured on the
    videos finished lately (seconds from their first message to their result, per second of
    video), or ``default`` before any was measured."""
    measured = list(paces)
    return margin * median(measured) if measured else default


def pace(state: JoinState, now: float) -> float | None:
    """A finished video's pace (seconds taken per second of video), when it tells something
    of the service's: a run that completed, long enough."""
    media_s = state.media_s()
    if state.first_seen is None or media_s is None or media_s < MIN_MEASURED_MEDIA_S:
        return None
    return (now - state.first_seen) / media_s


class Action(StrEnum):
    IGNORE = "ignore"  # a late message for a finalised video
    WAIT = "wait"  # keep the state; more parts to come
    BUILD = "build"  # build the result from the manifest and the parts received
    HEAL = "heal"  # stuck: publish the video again as its next run
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
    patience: Patience,
) -> Step:
    """The join's next step for one message of a video.

    A video's result is built when every expected part is in, or at once when its manifest
    says the split failed. On a deadline message for a stuck video (``patience.stuck``), it is
    analysed again as its next run (``HEAL``) while it has been so fewer than
    ``patience.heal_runs`` times; after that its result is built from the parts in (a partial
    result), or, without a manifest, the video fails. Parts delivered twice count once;
    anything after the result is ignored.
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
    if item.run is not None:  # every message but the join's own deadline
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
        new.manifest_at = new.last_seen = now
    elif isinstance(item, PartialResult) and item.part_key not in new.received:
        new.received.append(item.part_key)
        new.last_seen = now
        new_part = item
        if item.analyzer == "speech":
            new.previews.pop(str(item.index), None)
    if new.manifest is not None and (
        new.manifest.error is not None or new.manifest.expected_parts() <= set(new.received)
    ):
        return Step(new, Action.BUILD, new_part, dropped)
    if isinstance(item, JoinDeadline) and patience.stuck(new, now):
        action = Action.HEAL if new.heals < patience.heal_runs else given_up(new)
        return Step(new, action, new_part, dropped)
    return Step(new, Action.WAIT, new_part, dropped)


def given_up(state: JoinState) -> Action:
    """What ends a stuck video that is not analysed again: its result from the parts in,
    or, without a manifest, its failure."""
    return Action.BUILD if state.manifest is not None else Action.SPLIT_INCOMPLETE


def healing(state: JoinState, now: float) -> JoinState:
    """The state of a stuck video published again as its next run: nothing of the old run
    kept (its late messages are ignored), its time counted afresh."""
    return JoinState(run=state.run + 1, first_seen=now, last_seen=now, heals=state.heals + 1)


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
    new.last_seen = now
    new.previews[str(item.chunk_index)] = list(item.segments)
    return new


def finalized(state: JoinState, status: str, now: float) -> JoinState:
    """The small marker kept once a video's result is out: late parts are then ignored."""
    return JoinState(
        run=state.run, first_seen=state.first_seen, finalized=True, status=status, finalized_at=now
    )


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

"""The join's state machine, path by path, without a broker (``video_analysis.join``)."""

from __future__ import annotations

from video_analysis.join import (
    Action,
    JoinState,
    Patience,
    add_preview,
    apply,
    finalized,
    healing,
    pace,
    partial_transcript,
    per_media_s,
)
from video_analysis.schemas import (
    AnalyzerPlan,
    ErrorInfo,
    JoinDeadline,
    JoinDelete,
    MediaInfo,
    ModelInfo,
    PartialResult,
    PartialSegment,
    PartSource,
    SplitManifest,
    TranscriptPreview,
)
from video_analysis.schemas.parts import SegmentRow, SpeechPart, VoiceSignal, WordRow

DEADLINE_S = 600.0
#: A join that gives every video DEADLINE_S, whatever its length, and gives up at once.
PATIENCE = Patience(floor_s=DEADLINE_S, per_media_s=0.0, quiet_s=0.0, heal_runs=0)
MODEL = ModelInfo(analyzer="quality", name="media-quality", version="0.1.0")


def manifest(**fields: object) -> SplitManifest:
    values: dict[str, object] = {
        "video_id": "v1",
        "media": MediaInfo(duration_s=4.0, has_video=True, has_audio=True),
        "frame_batches": 2,
        "audio_chunks": 1,
        "analyzers": AnalyzerPlan(frames=["quality"], audio=["quality"]),
    }
    values.update(fields)
    return SplitManifest(**values)  # type: ignore[arg-type]


def part(source: PartSource, index: int, **fields: object) -> PartialResult:
    return PartialResult(
        video_id="v1", analyzer="quality", source=source, index=index, model=MODEL, **fields
    )


PARTS = [part(PartSource.FRAMES, 0), part(PartSource.FRAMES, 1), part(PartSource.AUDIO, 0)]


def run(items: list[object], start: float = 1000.0, step_s: float = 1.0) -> list[Action]:
    state: JoinState | None = None
    actions = []
    for k, item in enumerate(items):
        step = apply(state, item, start + k * step_s, PATIENCE)  # type: ignore[arg-type]
        actions.append(step.action)
        state = step.state
    return actions


def test_manifest_first_builds_when_the_last_part_arrives() -> None:
    assert run([manifest(), *PARTS]) == [Action.WAIT, Action.WAIT, Action.WAIT, Action.BUILD]


def test_manifest_last_builds_at_once_when_every_part_is_in() -> None:
    assert run([*PARTS, manifest()]) == [Action.WAIT, Action.WAIT, Action.WAIT, Action.BUILD]


def test_a_part_delivered_twice_counts_once_and_is_kept_once() -> None:
    first = apply(None, manifest(), 0.0, PATIENCE)
    once = apply(first.state, PARTS[0], 1.0, PATIENCE)
    twice = apply(once.state, PARTS[0], 2.0, PATIENCE)

    assert once.new_part == PARTS[0] and twice.new_part is None
    assert twice.state.received == ["quality:frames:0"]
    assert twice.action == Action.WAIT
    assert twice.state.progress() == round(1 / 3, 4)


def test_a_failed_part_counts_as_received() -> None:
    broken = part(PartSource.AUDIO, 0, error=ErrorInfo(code="internal_error", message="boom"))
    assert run([manifest(), PARTS[0], PARTS[1], broken])[-1] == Action.BUILD


def test_a_failed_split_builds_at_once_without_parts() -> None:
    failed = manifest(error=ErrorInfo(code="unreadable_media", message="x"), frame_batches=0)
    step = apply(None, failed, 0.0, PATIENCE)
    assert step.action == Action.BUILD


def test_a_stuck_video_not_healed_builds_a_partial_result_only_once_its_time_passed() -> None:
    first = apply(None, manifest(), 0.0, PATIENCE)
    some = apply(first.state, PARTS[0], 1.0, PATIENCE)

    early = apply(some.state, JoinDeadline(video_id="v1"), DEADLINE_S - 1, PATIENCE)
    late = apply(early.state, JoinDeadline(video_id="v1"), DEADLINE_S, PATIENCE)
    assert (early.action, late.action) == (Action.WAIT, Action.BUILD)
    assert late.state.received == ["quality:frames:0"]


def test_parts_without_a_manifest_fail_the_video_once_its_time_passed() -> None:
    first = apply(None, PARTS[0], 0.0, PATIENCE)
    early = apply(first.state, JoinDeadline(video_id="v1"), DEADLINE_S - 1, PATIENCE)
    late = apply(early.state, JoinDeadline(video_id="v1"), DEADLINE_S, PATIENCE)

    assert (early.action, late.action) == (Action.WAIT, Action.SPLIT_INCOMPLETE)


def test_messages_after_the_result_are_ignored() -> None:
    done = finalized(JoinState(first_seen=0.0, received=["quality:frames:0"]), "complete", 5.0)

    for item in (PARTS[1], manifest(), JoinDeadline(video_id="v1")):
        step = apply(done, item, 10.0, PATIENCE)
        assert step.action == Action.IGNORE and step.state == done and step.new_part is None
    assert done.received == [] and done.status == "complete"


def test_a_deleted_video_keeps_nothing_but_a_marker_and_ignores_what_comes_later() -> None:
    midway = apply(apply(None, manifest(), 0.0, PATIENCE).state, PARTS[0], 1.0, PATIENCE)
    deleted = apply(midway.state, JoinDelete(video_id="v1"), 2.0, PATIENCE)
    assert deleted.action == Action.DELETE
    marker = deleted.state
    assert marker.finalized and marker.status == "deleted"
    assert marker.manifest is None and marker.received == [] and marker.previews == {}
    for item in (PARTS[1], PARTS[2], manifest(), JoinDeadline(video_id="v1")):
        assert apply(marker, item, 3.0, PATIENCE).action == Action.IGNORE
    assert not PATIENCE.stuck(marker, 10 * DEADLINE_S)
    # A result already out is deleted too: the delete is not ignored after finalisation.
    done = finalized(midway.state, "complete", 5.0)
    assert apply(done, JoinDelete(video_id="v1"), 6.0, PATIENCE).action == Action.DELETE


def test_the_state_survives_its_json_form_as_the_table_keeps_it() -> None:
    step = apply(apply(None, manifest(), 0.0, PATIENCE).state, PARTS[0], 1.0, PATIENCE)
    stored = step.state.model_dump(mode="json")
    back = JoinState.model_validate(stored)

    assert back == step.state
    assert apply(back, PARTS[1], 2.0, PATIENCE).action == Action.WAIT
    # A state written before this module existed (plain dict of the same keys) still reads.
    old = {"first_seen": 0.0, "manifest_at": 0.0, "received": ["quality:frames:0"]}
    assert JoinState.model_validate({**old, "manifest": stored["manifest"]}) == back.model_copy(
        update={"first_seen": 0.0, "last_seen": None}
    )


def test_the_timer_asks_for_videos_past_their_deadline() -> None:
    with_manifest = apply(None, manifest(), 0.0, PATIENCE).state
    without = apply(None, PARTS[0], 0.0, PATIENCE).state

    assert not PATIENCE.stuck(with_manifest, DEADLINE_S - 1)
    assert PATIENCE.stuck(with_manifest, DEADLINE_S)
    assert not PATIENCE.stuck(without, DEADLINE_S - 1)
    assert PATIENCE.stuck(without, DEADLINE_S)
    assert not PATIENCE.stuck(finalized(with_manifest, "partial", 1.0), 10 * DEADLINE_S)


# --- a stuck video heals itself -----------------------------------------------------------------

HEALING = Patience(floor_s=60.0, per_media_s=2.0, quiet_s=30.0, heal_runs=2)
DEADLINE = JoinDeadline(video_id="v1")


def test_a_video_gets_time_for_its_length_before_it_is_stuck() -> None:
    # 4 s of video: 60 s + 2 s per second of it.
    waiting = apply(apply(None, manifest(), 0.0, HEALING).state, PARTS[0], 0.0, HEALING).state
    assert HEALING.budget_s(4.0) == 68.0 and HEALING.budget_s(None) == 60.0
    assert not HEALING.stuck(waiting, 67.9)
    assert HEALING.stuck(waiting, 68.0)
    # An hour's video gets its two hours and the floor.
    long = manifest(media=MediaInfo(duration_s=3600.0, has_video=True, has_audio=True))
    hour = apply(None, long, 0.0, HEALING).state
    assert not HEALING.stuck(hour, 7259.0) and HEALING.stuck(hour, 7260.0)
    # What decoded counts, when the video ends before its declared length.
    short = apply(None, manifest(media=long.media, analysed_s=10.0), 0.0, HEALING).state
    assert HEALING.stuck(short, 80.0)


def test_a_slow_video_whose_parts_keep_coming_is_not_stuck() -> None:
    state = apply(None, manifest(), 0.0, HEALING).state
    state = apply(state, PARTS[0], 100.0, HEALING).state  # long past its 68 s, but news
    assert not HEALING.stuck(state, 129.0)
    assert apply(state, DEADLINE, 129.0, HEALING).action == Action.WAIT
    assert HEALING.stuck(state, 130.0)
    # A preview (words of a chunk still being analysed) is news too.
    words = [PartialSegment(start=0.0, end=1.0, text="Still talking.")]
    previewed = add_preview(
        state, TranscriptPreview(video_id="v1", chunk_index=0, segments=words), 125.0
    )
    assert previewed is not None and not HEALING.stuck(previewed, 150.0)


def test_a_stuck_video_is_analysed_again_a_bounded_number_of_times_then_given_up() -> None:
    # The manifest lost: parts came, then nothing.
    state = apply(None, PARTS[0], 0.0, HEALING).state
    assert apply(state, DEADLINE, 59.0, HEALING).action == Action.WAIT
    assert apply(state, DEADLINE, 60.0, HEALING).action == Action.HEAL
    # The join publishes run 1 and starts its time afresh; run 0's late manifest is ignored.
    healed = healing(state, 60.0)
    assert (healed.run, healed.heals, healed.received, healed.first_seen) == (1, 1, [], 60.0)
    assert apply(healed, manifest(), 61.0, HEALING).action == Action.IGNORE
    assert not HEALING.stuck(healed, 119.0)
    # Run 1's messages keep the count of heals; lost again, it is healed once more.
    state = apply(healed, part(PartSource.FRAMES, 0, run=1), 61.0, HEALING).state
    assert (state.run, state.heals) == (1, 1)
    assert apply(state, DEADLINE, 121.0, HEALING).action == Action.HEAL
    # After heal_runs runs the join gives up: failed without a manifest...
    twice = healing(state, 121.0)
    twice = apply(twice, part(PartSource.FRAMES, 0, run=2), 122.0, HEALING).state
    assert apply(twice, DEADLINE, 181.0, HEALING).action == Action.SPLIT_INCOMPLETE
    # ... and the parts in, as a partial result, with one.
    stuck = apply(twice, manifest(run=2), 122.0, HEALING).state
    assert apply(stuck, DEADLINE, 191.0, HEALING).action == Action.BUILD
    # A reprocess asked by a person starts with no heals counted.
    again = apply(finalized(stuck, "partial", 200.0), manifest(run=3), 201.0, HEALING).state
    assert (again.run, again.heals) == (3, 0)


def test_the_time_a_video_gets_follows_the_pace_measured_on_finished_ones() -> None:
    assert per_media_s([], default=1.0, margin=3.0) == 1.0
    assert per_media_s([0.2, 0.3, 5.0], default=1.0, margin=3.0) == 0.8999999999999999
    long = manifest(media=MediaInfo(duration_s=600.0, has_video=True, has_audio=True))
    done = apply(None, long, 100.0, HEALING).state
    assert pace(done, 250.0) == 0.25
    # A short clip's time is mostly fixed costs: not a pace; nor a video never split.
    assert pace(apply(None, manifest(), 100.0, HEALING).state, 150.0) is None
    assert pace(apply(None, PARTS[0], 100.0, HEALING).state, 150.0) is None


# --- what the status shows while parts come in ------------------------------------------------


def test_stages_say_how_far_each_analyzer_is_and_are_empty_before_the_manifest() -> None:
    plan = AnalyzerPlan(frames=["quality", "face"], audio=["speech"])
    video = manifest(frame_batches=2, audio_chunks=2, analyzers=plan)
    state = apply(None, part(PartSource.FRAMES, 0), 1000.0, PATIENCE).state
    assert state.stages() == {}

    for item in (video, *(speech(k, []) for k in range(1))):
        state = apply(state, item, 1001.0, PATIENCE).state

    assert state.stages() == {
        "split": 1.0,
        "analyze.face": 0.0,
        "analyze.quality": 0.5,
        "analyze.speech": 0.5,
        "join": 0.0,
    }
    assert state.final_stages()["join"] == 1.0
    assert state.final_stages()["analyze.face"] == 0.0


def speech(index: int, words: list[tuple[float, float, str]], **row: object) -> PartialResult:
    """A speech part of chunk ``index`` (10 s each) whose one segment holds ``words``."""
    segments = []
    if words:
        fields: dict[str, object] = {
            "avg_logprob": -0.2,
            "no_speech_prob": 0.01,
            "compression_ratio": 1.2,
            **row,
        }
        segments = [
            SegmentRow(
                start=words[0][0],
                end=words[-1][1],
                text="".join(w for _, _, w in words).strip(),
                words=[WordRow(start=a, end=b, word=w, probability=0.9) for a, b, w in words],
                **fields,  # type: ignore[arg-type]
            )
        ]
    data = SpeechPart(
        start=index * 10.0,
        end=index * 10.0 + 10.0,
        duration_s=10.0,
        segments=segments,
        voice=VoiceSignal(samples=160_000, clipped=0),
    )
    return PartialResult(
        video_id="v1",
        analyzer="speech",
        source=PartSource.AUDIO,
        index=index,
        model=ModelInfo(analyzer="speech", name="whisper-base", version="1"),
        data=data.model_dump(mode="json"),
    )


def test_the_partial_transcript_is_in_time_order_whatever_order_chunks_come_in() -> None:
    second = speech(1, [(11.0, 11.4, " and"), (11.5, 12.0, " then")])
    first = speech(0, [(1.0, 1.4, " Hello"), (1.5, 2.0, " there.")])

    only_second = partial_transcript([second], 2.4)
    both = partial_transcript([second, first, second], 2.4)

    assert [s.text for s in only_second] == ["and then"]
    assert [(s.start, s.text) for s in both] == [(1.0, "Hello there."), (11.0, "and then")]


def test_the_partial_transcript_leaves_out_what_the_result_will_drop() -> None:
    invented = speech(0, [(1.0, 1.4, " thanks"), (1.5, 2.0, " thanks")], compression_ratio=9.0)
    failed = speech(1, [(11.0, 11.4, " lost")]).model_copy(
        update={"error": ErrorInfo(code="internal_error", message="boom")}
    )
    odd = speech(2, [(21.0, 21.4, " odd")]).model_copy(update={"data": {"segments": 3}})

    assert partial_transcript([invented, failed, odd], 2.4) == []


def test_previewed_words_show_until_their_part_is_in() -> None:
    words = [PartialSegment(start=8.5, end=10.0, text="Later words.")]
    early = [PartialSegment(start=0.5, end=2.0, text="First words.")]
    audio = [manifest(audio_chunks=2, analyzers=AnalyzerPlan(frames=[], audio=["speech"]))]
    state = apply(None, audio[0], 0.0, PATIENCE).state
    # Chunk 1's words arrive first (out of order); then chunk 0's.
    state = add_preview(state, TranscriptPreview(video_id="v1", chunk_index=1, segments=words), 1)
    assert state is not None
    state = add_preview(state, TranscriptPreview(video_id="v1", chunk_index=0, segments=early), 2)
    assert state is not None
    assert [s.text for s in state.live_transcript()] == ["First words.", "Later words."]
    # Chunk 0's part arrives: its preview gives way to the part's transcript.
    part0 = PartialResult(
        video_id="v1", analyzer="speech", source=PartSource.AUDIO, index=0, model=MODEL
    )
    after = apply(state, part0, 3.0, PATIENCE)
    assert list(after.state.previews) == ["1"]
    later = after.state
    heard = [PartialSegment(start=0.5, end=2.0, text="First words!")]
    assert [s.text for s in later.live_transcript(heard)] == ["First words!", "Later words."]
    # A preview after its part, or after the result, is no news.
    late = TranscriptPreview(video_id="v1", chunk_index=0, segments=early)
    assert add_preview(later, late, 4.0) is None
    assert add_preview(finalized(later, "complete", 5.0), late, 6.0) is None
    assert add_preview(None, late, 7.0) is not None  # before the manifest: kept


def test_a_reprocess_starts_the_video_afresh_and_ignores_the_older_run() -> None:
    # Run 0 finished partial: parts of it are gone, only the marker is left.
    first = apply(None, manifest(), 0.0, PATIENCE).state
    first = apply(first, PARTS[0], 1.0, PATIENCE).state
    done = finalized(first, "partial", 2.0)
    # Run 1's first part opens the video again; run 0's late part is ignored from then on.
    opened = apply(done, part(PartSource.FRAMES, 1, run=1), 3.0, PATIENCE)
    assert opened.action == Action.WAIT and opened.state.run == 1
    assert opened.state.received == ["quality:frames:1"] and not opened.state.finalized
    stale = apply(opened.state, part(PartSource.AUDIO, 0), 4.0, PATIENCE)
    assert stale.action == Action.IGNORE and stale.state == opened.state
    assert apply(opened.state, manifest(), 4.0, PATIENCE).action == Action.IGNORE
    # Run 1 completes on its own parts only.
    state = opened.state
    actions = []
    for item in (
        manifest(run=1),
        part(PartSource.FRAMES, 0, run=1),
        part(PartSource.AUDIO, 0, run=1),
    ):
        step = apply(state, item, 5.0, PATIENCE)
        actions.append(step.action)
        state = step.state
    assert actions == [Action.WAIT, Action.WAIT, Action.BUILD]
    assert finalized(state, "complete", 6.0).run == 1


def test_a_newer_run_drops_the_parts_an_unfinished_older_run_left() -> None:
    older = apply(apply(None, manifest(), 0.0, PATIENCE).state, PARTS[0], 1.0, PATIENCE)
    newer = apply(older.state, manifest(run=2), 2.0, PATIENCE)
    assert newer.dropped == ("quality:frames:0",)
    assert newer.state.run == 2 and newer.state.received == [] and newer.state.manifest


def test_a_deleted_video_is_not_opened_again_by_a_newer_run() -> None:
    marker = apply(None, JoinDelete(video_id="v1"), 0.0, PATIENCE).state
    opened = apply(marker, part(PartSource.FRAMES, 0, run=1), 1.0, PATIENCE)
    assert opened.action == Action.IGNORE
    late = TranscriptPreview(video_id="v1", run=1, chunk_index=0, segments=[])
    assert add_preview(marker, late, 2.0) is None


def test_previews_belong_to_their_run() -> None:
    done = finalized(apply(None, manifest(), 0.0, PATIENCE).state, "complete", 1.0)
    words = [PartialSegment(start=0.5, end=2.0, text="Again.")]
    fresh = add_preview(
        done, TranscriptPreview(video_id="v1", run=1, chunk_index=0, segments=words), 2.0
    )
    assert fresh is not None and fresh.run == 1 and not fresh.finalized
    assert [s.text for s in fresh.live_transcript()] == ["Again."]
    old = TranscriptPreview(video_id="v1", run=0, chunk_index=1, segments=words)
    assert add_preview(fresh, old, 3.0) is None

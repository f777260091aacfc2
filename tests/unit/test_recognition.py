"""Whisper on a chunk's speech found once and encoded once (``analyzers/speech/recognition``):
the same speech chunks, language scores and transcript as faster-whisper's own ``transcribe``
on real speech, with one Silero pass and one encoder pass instead of three each."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.real_data import (
    AMI_FILES,
    GRID_CLIPS,
    RATE,
    ami_audio,
    character_distance,
    character_error_rate,
    grid_audio,
    grid_transcripts,
    korean_audio,
    korean_transcripts,
    needs_ami,
    needs_grid,
    needs_korean,
)
from tests.unit.test_real_speech import needs_models
from video_analysis.analyzers.speech import activity
from video_analysis.analyzers.speech.recognition import (
    WINDOW_FRAMES,
    Recognizer,
    short_window,
)
from video_analysis.models import model_path
from video_analysis.settings import Settings

pytestmark = needs_models


@pytest.fixture(scope="module")
def whisper() -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(model_path(Settings(), "whisper-base")),
        device="cpu",
        compute_type="int8",
        cpu_threads=2,
        local_files_only=True,
    )


class CountingModel:
    """The model, counting its encoder passes."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.encodes = 0
        self.windows: list[tuple[int, int]] = []  # frames encoded, and their content

    def encode(self, features: Any) -> Any:
        self.encodes += 1
        filled = np.flatnonzero(np.any(features != 0, axis=0))
        self.windows.append((features.shape[-1], int(filled[-1]) + 1 if filled.size else 0))
        return self._model.encode(features)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _words(segments: list[Any]) -> list[tuple[float, float, str, list[tuple[float, float, str]]]]:
    return [(s.start, s.end, s.text, [(w.start, w.end, w.word) for w in s.words]) for s in segments]


@needs_ami
@needs_grid
def test_speech_chunks_from_one_silero_pass_are_whispers_own() -> None:
    from faster_whisper import vad

    model = vad.get_vad_model()
    signals = [ami_audio(name) for name in AMI_FILES] + [grid_audio("sbia1a")]
    signals += [np.zeros(16_000, dtype=np.float32), ami_audio("trn05")[:12_345]]
    for options in (vad.VadOptions(), vad.VadOptions(max_speech_duration_s=4.0)):
        for x in signals:
            probabilities = activity.silero_probabilities(model, x)
            assert activity.speech_chunks(probabilities, x.size, options) == (
                vad.get_speech_timestamps(x, options)
            )


@needs_ami
def test_a_meeting_chunk_is_transcribed_as_transcribe_does_with_one_encoder_pass(
    whisper: Any,
) -> None:
    from faster_whisper import vad

    x = ami_audio("trn03")[: 28 * 16_000]  # a splitter chunk (VA_AUDIO_CHUNK_MAX_S 29)
    reference, _info = whisper.transcribe(
        x,
        language="en",
        beam_size=1,
        temperature=0.0,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    reference = list(reference)
    counting = CountingModel(whisper)
    recognizer = Recognizer(counting)
    chunks = activity.speech_chunks(
        activity.silero_probabilities(vad.get_vad_model(), x), x.size, vad.VadOptions()
    )
    speech = recognizer.speech(x, chunks)
    scores = recognizer.language_scores(speech, speech.samples)
    segments = recognizer.transcribe(speech, "en", beam_size=1, prompt=None)

    assert max(scores, key=lambda code: scores[code]) == "en"
    assert len(segments) >= 3
    # The language and the words share the one 30 s window: what was decoded from it (seek 0)
    # is faster-whisper's to the last word and frame.
    assert [frames for frames, _ in counting.windows].count(WINDOW_FRAMES) == 1
    assert counting.windows[0][0] == WINDOW_FRAMES
    first = _words([s for s in segments if s.seek == 0])
    assert first and first == _words([s for s in reference if s.seek == 0])
    # Where Whisper's first window ends before the chunk does (on some hosts' kernels: an
    # Intel AVX-512 one stopped at 24.4 s of the 27.8 here), the rest is encoded in a short
    # window (``_ShortTails``), faster-whisper's in a padded 30 s one: nearly the same words
    # ("gasses that it was ..." against "guesses that it was ..."), over the same time.
    ours = " ".join(s.text.strip() for s in segments if s.seek > 0)
    theirs = " ".join(s.text.strip() for s in reference if s.seek > 0)
    distance, length = character_distance(theirs, ours)
    assert distance <= 0.1 * length
    assert all(frames < WINDOW_FRAMES for frames, _ in counting.windows[1:])
    assert segments[-1].end == pytest.approx(reference[-1].end, abs=0.1)


@needs_grid
def test_a_part_of_the_speech_is_scored_on_its_own(whisper: Any) -> None:
    from faster_whisper import vad

    x = grid_audio("lwbsza")
    counting = CountingModel(whisper)
    recognizer = Recognizer(counting)
    chunks = vad.get_speech_timestamps(x, vad.VadOptions())
    speech = recognizer.speech(x, chunks)
    whole = recognizer.language_scores(speech, speech.samples)
    half = recognizer.language_scores(speech, speech.samples[: speech.samples.size // 2].copy())
    assert counting.encodes == 2
    assert whole != half
    assert max(whole, key=lambda code: whole[code]) == "en"


def test_no_speech_gives_no_segments_and_no_encoder_pass(whisper: Any) -> None:
    counting = CountingModel(whisper)
    recognizer = Recognizer(counting)
    speech = recognizer.speech(np.zeros(16_000, dtype=np.float32), [])
    assert recognizer.transcribe(speech, "en", beam_size=1, prompt=None) == []
    assert counting.encodes == 0


@needs_ami
def test_a_chunk_across_two_meetings_is_transcribed_to_the_end_of_its_speech(
    whisper: Any,
) -> None:
    from faster_whisper import vad

    joined = np.concatenate([ami_audio(name) for name in AMI_FILES])
    x = joined[int(70.9 * 16_000) : int(98.37 * 16_000)]
    recognizer = Recognizer(whisper)
    chunks = activity.speech_chunks(
        activity.silero_probabilities(vad.get_vad_model(), x), x.size, vad.VadOptions()
    )
    segments = recognizer.transcribe(recognizer.speech(x, chunks), "en", beam_size=1, prompt=None)
    text = " ".join(s.text for s in segments).lower()
    assert "java" in text and "two objects" in text
    assert segments[-1].end >= chunks[-1]["end"] / 16_000 - 2.0
    times = [(s.start, s.end) for s in segments]
    assert times == sorted(times)


class EarlyEnd:
    """``generate_segments`` of a Whisper whose first decode stops at 10 s of 25 s of speech,
    as the real one did on a chunk of the joined AMI excerpts (its seek then skipped a
    28-word sentence)."""

    def __init__(self) -> None:
        self.clips: list[Any] = []

    def __call__(self, model: Any, features: Any, tokenizer: Any, options: Any, *args: Any) -> Any:
        from faster_whisper.transcribe import Segment

        self.clips.append(options.clip_timestamps)
        start = 0.0 if options.clip_timestamps == "0" else float(options.clip_timestamps[0])
        end = 10.0 if start == 0.0 else 24.5
        yield Segment(
            id=1, seek=0, start=start, end=end, text=f" from {start:g}", tokens=[1],
            avg_logprob=-0.2, compression_ratio=1.0, no_speech_prob=0.01, words=[],
            temperature=0.0,
        )  # fmt: skip


def test_speech_after_an_early_end_of_the_window_is_decoded_again(
    whisper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faster_whisper import WhisperModel

    stub = EarlyEnd()
    monkeypatch.setattr(WhisperModel, "generate_segments", stub)
    recognizer = Recognizer(whisper)
    x = (0.1 * np.sin(np.arange(25 * 16_000) / 8)).astype(np.float32)
    speech = recognizer.speech(x, [{"start": 0, "end": x.size}])
    segments = recognizer.transcribe(speech, "en", beam_size=1, prompt=None)
    assert [s.text for s in segments] == [" from 0", " from 10"]
    assert stub.clips[0] == "0" and stub.clips[1][0] == 10.0
    assert stub.clips[1][1] == pytest.approx(25.0, abs=0.02)


@needs_ami
@needs_grid
def test_a_decode_that_ends_inside_a_sentence_goes_on_in_a_short_window(whisper: Any) -> None:
    """A window whose decode ends inside a sentence is followed by one from its last word on.
    On chunks of real meeting speech closed by a GRID sentence (29 s, as the splitter cuts),
    that window is encoded short, not in 30 s, and the sentence is read."""
    from faster_whisper import vad

    from video_analysis.analyzers.speech.fillers import FILLER_PROMPTS

    truth = grid_transcripts()
    tails: list[tuple[int, int]] = []
    for meeting, clip in (("trn03", "id2_vcd_swwp2s"), ("trn05", "sbia1a"), ("trn09", "lwbsza")):
        sentence = grid_audio(clip)
        lead = ami_audio(meeting)[: int(28.7 * RATE) - sentence.size]
        x = np.concatenate([lead, np.zeros(int(0.3 * RATE), np.float32), sentence])
        counting = CountingModel(whisper)
        recognizer = Recognizer(counting)
        chunks = activity.speech_chunks(
            activity.silero_probabilities(vad.get_vad_model(), x), x.size, vad.VadOptions()
        )
        speech = recognizer.speech(x, chunks)
        recognizer.language_scores(speech, speech.samples)
        segments = recognizer.transcribe(speech, "en", beam_size=1, prompt=FILLER_PROMPTS["en"])
        said_from = x.size / RATE - sentence.size / RATE + 0.1
        heard = "".join(w.word for s in segments for w in s.words if w.end > said_from)

        assert counting.windows[0] == (WINDOW_FRAMES, speech.features.shape[-1] - 1)
        tails += counting.windows[1:]
        assert character_error_rate(truth[clip], heard) <= 0.1, heard
    # Measured: a tail of 3.3-5.8 s after each (45 such chunks: the sentence's mean CER 0.073
    # with tails in short windows, 0.070 in 30 s ones, for a quarter less decoding work).
    assert tails
    assert all(frames == short_window(content) < WINDOW_FRAMES for frames, content in tails)


def test_a_short_window_is_twice_the_part_at_least_ten_seconds() -> None:
    assert short_window(300) == 1000
    assert short_window(500) == 1000
    assert short_window(501) == 2000
    assert short_window(1001) == WINDOW_FRAMES
    assert short_window(5000) == WINDOW_FRAMES


@needs_ami
@needs_grid
@needs_korean
def test_a_part_scored_in_a_short_window_weighs_en_and_ko_as_the_full_one(whisper: Any) -> None:
    """The checks for a second language score parts of a chunk in a short window: on real
    cuts of 2-8 s the en/ko shares stay within 0.05 of the 30 s window's (unpadded they
    drifted by up to 0.4), and the pass costs fewer encoder frames. The int8 kernels MKL picks
    for the CPU move the shares a little: at most 0.02 apart on AVX2 and AVX-512 machines,
    0.042 on one with AMX (trn05's first 3 s: en 0.976 short, 0.933 full)."""
    from video_analysis.analyzers.speech.language import combine

    recognizer = Recognizer(whisper)
    cuts = [grid_audio(clip) for clip in GRID_CLIPS]
    cuts += [korean_audio(name) for name in sorted(korean_transcripts())[:5]]
    for name in AMI_FILES[2:6]:
        x = ami_audio(name)
        cuts += [x[: 3 * RATE], x[10 * RATE : 18 * RATE]]  # 10 and 20 s windows
    speech = recognizer.speech(np.zeros(RATE, dtype=np.float32), [])
    for cut in cuts:
        short = combine([(1.0, recognizer.language_scores(speech, cut, short=True))], ["en", "ko"])
        full = combine([(1.0, recognizer.language_scores(speech, cut))], ["en", "ko"])
        assert abs(short["en"] - full["en"]) <= 0.05, (cut.size / RATE, short, full)

"""The speech analyzer on real recordings: who speaks when in real meetings (AMI), the language
and words of short real answers (GRID, spontaneous Korean), and the same transcript on every
run.

Needs the speech models installed (`video-analysis models install`) and the shared data folder
beside the checkout; each test skips with its reason otherwise. The bars are the issue's:
speaker count within one of the truth (exact for one and two speakers), and the share of
single-speaker time given to the right speaker (best one-to-one mapping) at least 0.85 for two
speakers and 0.75 for three or four.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.real_data import (
    AMI_FILES,
    GRID_CLIPS,
    RATE,
    ami_audio,
    ami_truth,
    character_distance,
    character_error_rate,
    filled_pause_times,
    fillers_audio,
    grid_audio,
    grid_transcripts,
    korean_audio,
    korean_transcripts,
    needs_ami,
    needs_fillers,
    needs_grid,
    needs_korean,
    score_turns,
    with_noise,
)
from video_analysis import models
from video_analysis.analyzers.base import DecodedAudio, SummaryInput
from video_analysis.analyzers.speech import SpeechAnalyzer, segmentation
from video_analysis.analyzers.speech.fillers import is_filled_pause
from video_analysis.analyzers.speech.language import SHORT_CONFIDENT_SHARE
from video_analysis.errors import ModelNotAvailable
from video_analysis.schemas import MediaInfo, Speakers, SpeechSection, SplitManifest
from video_analysis.schemas.parts import SpeechPart
from video_analysis.schemas.speech import FiguresFor, Word
from video_analysis.settings import Settings


def _missing_models() -> str | None:
    settings = Settings()
    for name in ("whisper-base", segmentation.MODEL_NAME, "campplus-speaker"):
        try:
            models.model_path(settings, name)
        except ModelNotAvailable as exc:
            return exc.message
    return None


needs_models = pytest.mark.skipif(
    _missing_models() is not None,
    reason=f"speech models not installed (`video-analysis models install`): {_missing_models()}",
)
pytestmark = needs_models

# Excerpts where the bars are not met, and why (see the closing figures in the issue note):
# trn01 holds 5.8 s of speech in 30 s, four people of 1-1.8 s each, so quiet that neither
# speech model hears it; in trn07 most of the speech is far from the microphones and
# whispered-quiet (mean P(speech) 0.2-0.3), and only 55% of it is found.
BELOW_DETECTION = {"trn01", "trn07"}


@pytest.fixture(scope="module")
def analyzer() -> SpeechAnalyzer:
    model = SpeechAnalyzer(Settings())
    model.load()
    return model


def _chunk(video_id: str, samples: NDArray[np.float32]) -> DecodedAudio:
    return DecodedAudio(video_id, 0, 0.0, samples.size / RATE, RATE, samples)


def _part(analyzer: SpeechAnalyzer, video_id: str, samples: NDArray[np.float32]) -> SpeechPart:
    part = analyzer.analyze_audio(_chunk(video_id, samples))
    assert isinstance(part, SpeechPart)
    return part


def _speech(analyzer: SpeechAnalyzer, video_id: str, samples: NDArray[np.float32]) -> SpeechSection:
    part = _part(analyzer, video_id, samples)
    manifest = SplitManifest(video_id=video_id, media=MediaInfo(duration_s=samples.size / RATE))
    summary = SpeechAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=Settings(), audio=[part])
    )
    section = summary["speech"]
    assert isinstance(section, SpeechSection)
    return section


def _turns(speech: SpeechSection) -> list[dict[str, Any]]:
    return [turn.model_dump() for turn in speech.turns]


def _speakers(speech: SpeechSection) -> Speakers:
    assert speech.speakers is not None
    return speech.speakers


@pytest.fixture(scope="module")
def meetings(analyzer: SpeechAnalyzer) -> dict[str, SpeechSection]:
    return {name: _speech(analyzer, name, ami_audio(name)) for name in AMI_FILES}


def _bar(speakers: int) -> float:
    return 0.85 if speakers == 2 else 0.75


@needs_ami
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(strict=True, reason="speech below both models' detection"),
        )
        if name in BELOW_DETECTION
        else name
        for name in AMI_FILES
    ],
)
def test_speakers_of_a_real_meeting_are_counted_and_told_apart(
    meetings: dict[str, SpeechSection], name: str
) -> None:
    truth = ami_truth()[name]
    speech = meetings[name]
    found = _speakers(speech).count
    score = score_turns(truth, _turns(speech))

    if len(truth.speakers) <= 2:
        assert found == len(truth.speakers)
    else:
        assert abs(found - len(truth.speakers)) <= 1
    if len(truth.speakers) >= 2:  # with one speaker there is nobody to tell apart
        assert score.right >= _bar(len(truth.speakers)), score


@needs_ami
def test_one_speaker_is_not_split_and_two_men_are_told_apart(
    meetings: dict[str, SpeechSection],
) -> None:
    # trn02: one woman, 0.7 s of speech; trn03: two men, one of them for 1.2 s of 30.
    assert _speakers(meetings["trn02"]).count == 1
    two = meetings["trn03"]
    assert _speakers(two).count == 2
    assert score_turns(ami_truth()["trn03"], _turns(two)).right >= 0.95  # measured 1.00


@needs_ami
def test_words_turns_and_overlaps_of_a_meeting_are_consistent(
    meetings: dict[str, SpeechSection],
) -> None:
    speech = meetings["trn08"]  # four people, 13 s of overlap in the truth
    names = {turn.speaker for turn in speech.turns}
    words = [word for segment in speech.segments for word in segment.words]

    assert words and all(word.speaker in names for word in words)
    for segment in speech.segments:  # a segment is split where the speaker changes
        assert {word.speaker for word in segment.words} == {segment.speaker}
    turns = speech.turns
    assert all(a.end <= b.start + 1e-6 for a, b in zip(turns, turns[1:], strict=False))
    assert sum(_speakers(speech).talk_ratio.values()) == pytest.approx(1.0, abs=1e-3)
    overlaps = speech.overlaps
    assert overlaps is not None
    assert overlaps.count >= 1 and overlaps.cannot_assess is None
    assert overlaps.total_s == pytest.approx(
        sum(r.end - r.start for r in overlaps.regions), abs=1e-3
    )
    inside = [
        word
        for word in words
        if any(r.start <= (word.start + word.end) / 2 < r.end for r in overlaps.regions)
    ]
    assert inside and all(word.overlap for word in inside)
    assert sum(word.overlap for word in words) == len(inside)


@needs_ami
def test_fluency_figures_are_the_candidates_own(meetings: dict[str, SpeechSection]) -> None:
    speech = meetings["trn09"]  # three people; one speaks all 30 s
    speakers = _speakers(speech)
    candidate = speakers.candidate

    assert speakers.candidate_source == "most_talk"
    assert candidate == max(speakers.talk_s, key=lambda name: speakers.talk_s[name])
    assert speech.figures_for == FiguresFor(speaker=candidate, rule="most_talk")
    own = speakers.per_speaker[candidate]
    assert own is not None
    assert speech.words_per_minute == own.words_per_minute
    assert speech.pauses == own.pauses
    assert set(speakers.per_speaker) == set(speakers.talk_s)


# --- short real answers ---------------------------------------------------------------------


@needs_grid
@pytest.mark.parametrize("snr_db", [None, 10.0])
def test_short_real_english_is_identified_and_transcribed_without_a_hint(
    analyzer: SpeechAnalyzer, snr_db: float | None
) -> None:
    truth = grid_transcripts()
    errors = []
    for clip in GRID_CLIPS:
        samples = grid_audio(clip)
        if snr_db is not None:
            samples = with_noise(samples, snr_db)
        part = _part(analyzer, clip, samples)
        text = " ".join(row.text for row in part.segments if row.flag is None)

        assert (part.language, part.language_source) == ("en", "detected"), part
        errors.append(character_error_rate(truth[clip], text))
    # Before detection over several windows, 2 of 5 such clips came out Welsh with CER above
    # 0.9. Clean, measured CER per clip 0.00-0.26 (mean 0.05). At 10 dB SNR one clip's words
    # depend on the CPU's int8 kernels (MKL picks them by CPU): lwbsza read "Lay white by a
    # lure again." on AVX2 code (0.24), "They're white, they're blue, they're red again." on
    # AVX-512 (1.05), the others 0.00-0.26 on both (mean 0.10 on one machine, 0.26 on another;
    # pinning MKL to AVX2 made recognition 50% slower).
    if snr_db is None:
        assert max(errors) <= 0.35, errors
        assert float(np.mean(errors)) <= 0.15, errors
    else:
        assert sum(error > 0.35 for error in errors) <= 1, errors
        assert float(np.mean(errors)) <= 0.3, errors


@needs_korean
def test_short_spontaneous_korean_answers_are_read_as_korean_without_a_hint(
    analyzer: SpeechAnalyzer,
) -> None:
    """Ten real spontaneous Korean utterances (1-6 s), each its own answer, no language
    given: every one is read as Korean, and the character error rate over all of them stays
    under the issue's 0.25 (measured 0.174 with Korean's beam of 5, 0.195 greedy;
    benchmarks/korean.py prints each)."""
    errors = reference = 0
    for name, truth in korean_transcripts().items():
        part = _part(analyzer, name, korean_audio(name))
        assert (part.language, part.language_source) == ("ko", "detected"), (name, part.language)
        text = " ".join(row.text for row in part.segments if row.flag is None)
        distance, length = character_distance(truth, text)
        errors += distance
        reference += length
    assert errors / reference <= 0.25, errors / reference


def _first_word(
    analyzer: SpeechAnalyzer, name: str, samples: NDArray[np.float32], language: str
) -> NDArray[np.float32]:
    """The recording's first word, 0.3 s either side, as a one-word answer."""
    chunk = DecodedAudio(name, 0, 0.0, samples.size / RATE, RATE, samples, language=language)
    words = [w for row in analyzer.analyze_audio(chunk).segments for w in row.words]
    start, end = max(0.0, words[0].start - 0.3), words[0].end + 0.3
    return samples[int(start * RATE) : int(end * RATE)]


@needs_korean
@needs_grid
def test_a_one_word_answer_is_read_in_its_interviews_language(analyzer: SpeechAnalyzer) -> None:
    """One-word answers cut from real speech, analysed with no language given in an interview
    whose earlier answers were Korean: each Korean word is read as Korean (without the
    interview, 3 of these 9 came out English), and English words stay English.

    A single word's language score moves by several hundredths with the host's matrix
    kernels: the cut "Lay" scored English at 0.975 on AVX2 hosts and at 0.940 with MKL's
    AVX-512 path on an Intel host, under the 0.95 an answer needs to leave its interview's
    language (numerics.py says why MKL is not pinned). So one English word may stay in the
    interview's language, and only when its English share was under that bar."""
    read = {}
    for name in korean_transcripts():
        word = _first_word(analyzer, name, korean_audio(name), "ko")
        chunk = DecodedAudio(name, 0, 0.0, word.size / RATE, RATE, word, interview_language="ko")
        part = analyzer.analyze_audio(chunk)
        if part.segments:  # a word Silero does not hear is no answer
            read[name] = part.language
    assert len(read) >= 8 and set(read.values()) == {"ko"}, read
    english = {}
    for clip in GRID_CLIPS:
        word = _first_word(analyzer, clip, grid_audio(clip), "en")
        chunk = DecodedAudio(clip, 0, 0.0, word.size / RATE, RATE, word, interview_language="ko")
        part = analyzer.analyze_audio(chunk)
        english[clip] = (part.language, part.language_source, part.language_scores.get("en"))
    kept = {clip: read for clip, read in english.items() if read[:2] != ("en", "detected")}
    assert len(kept) <= 1, english
    for language, source, share in kept.values():
        assert (language, source) == ("ko", "interview") and share is not None, english
        assert share < SHORT_CONFIDENT_SHARE, english


# --- fillers --------------------------------------------------------------------------------


def _filled_pauses(speech: SpeechSection) -> list[Word]:
    return [
        w for s in speech.segments for w in s.words if w.filler and is_filled_pause(w.word, "en")
    ]


def _filled_pause_hits(speech: SpeechSection) -> tuple[list[float], list[Word]]:
    """The true filled pauses of the verbatim recording found within 0.3 s, and those marked."""
    found = _filled_pauses(speech)
    truth = [start for start, _word in filled_pause_times()]
    return [t for t in truth if any(abs(w.start - t) <= 0.3 for w in found)], found


@needs_fillers
def test_filled_pauses_of_real_speech_are_marked_at_their_time(analyzer: SpeechAnalyzer) -> None:
    """A real verbatim recording with three hesitation sounds (forced-aligned): at least two
    are marked ``filler`` within 0.3 s of their true start and counted as filled pauses, none
    where the speaker made none (with the old prompt and greedy decoding, none was found)."""
    speech = _speech(analyzer, "fillers", fillers_audio())
    hits, found = _filled_pause_hits(speech)
    assert len(hits) >= 2, ([(w.word, w.start) for w in found], filled_pause_times())
    assert len(hits) == len(found), "a filled pause marked where the speaker made none"
    assert speech.fillers is not None and speech.fillers.filled_pauses is not None
    assert speech.fillers.filled_pauses.count == len(found)
    assert speech.fillers.method == "whisper_filler_prompt"


@needs_fillers
def test_filled_pauses_whisper_leaves_out_are_found_in_its_gaps(
    analyzer: SpeechAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which hesitation sounds the prompted decode writes depends on the machine (one build
    wrote all three of the verbatim recording, another only the first). Here the decode
    writes none of them, as the worst build would: each is found again in the gap it leaves
    (``hesitations``), at its time."""
    transcribe = analyzer._transcribe

    def without_fillers(*args: Any, **kwargs: Any) -> list[Any]:
        rows = transcribe(*args, **kwargs)
        for row in rows:
            row.words = [w for w in row.words if not is_filled_pause(w.word, "en")]
            row.text = "".join(w.word for w in row.words).strip()
        return rows

    monkeypatch.setattr(analyzer, "_transcribe", without_fillers)
    hits, found = _filled_pause_hits(_speech(analyzer, "fillers", fillers_audio()))
    assert len(hits) >= 2, ([(w.word, w.start) for w in found], filled_pause_times())
    assert len(hits) == len(found), "a filled pause marked where the speaker made none"


@needs_grid
def test_no_filled_pause_is_invented_on_read_speech(analyzer: SpeechAnalyzer) -> None:
    """GRID's read commands hold no filler: none is marked on any of them."""
    invented = {
        clip: [w.word for w in _filled_pauses(_speech(analyzer, clip, grid_audio(clip)))]
        for clip in GRID_CLIPS
    }
    assert not any(invented.values()), invented


@needs_grid
def test_the_same_noisy_answer_gives_the_same_transcript_every_time(
    analyzer: SpeechAnalyzer,
) -> None:
    # With Whisper's random temperature fallback, these gave two or three different
    # transcripts in three runs.
    for clip, snr_db in (("swiz3n", 0.0), ("sbia1a", -5.0), ("sbwe5n", -5.0)):
        samples = with_noise(grid_audio(clip), snr_db)
        runs = set()
        for _ in range(3):
            part = _part(analyzer, clip, samples)
            runs.add(part.model_dump_json(exclude={"timing"}))
        assert len(runs) == 1, clip


@needs_grid
def test_the_speech_role_imports_neither_torch_nor_tensorflow() -> None:
    code = (
        "import sys\n"
        "from tests.real_data import grid_audio\n"
        "from video_analysis.analyzers.base import DecodedAudio\n"
        "from video_analysis.analyzers.speech import SpeechAnalyzer\n"
        "from video_analysis.settings import Settings\n"
        "analyzer = SpeechAnalyzer(Settings())\n"
        "analyzer.load()\n"
        "x = grid_audio('sbwe5n')\n"
        "part = analyzer.analyze_audio(DecodedAudio('v', 0, 0.0, x.size / 16000, 16000, x))\n"
        "assert part.speaker_windows and part.segments, part\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'onnx') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path.cwd())

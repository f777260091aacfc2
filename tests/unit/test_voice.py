"""Voice measures with Praat: F0, jitter, shimmer and HNR of synthetic voices with known truth
and of real recordings, their place on the 20 ms grid, and their pooling per speaker.

The synthetic voice is a pulse train through three formant resonators: its periods and pulse
amplitudes are exactly what the test sets, so jitter and shimmer have a known value.
"""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.real_data import (
    AMI_FILES,
    GRID_CLIPS,
    SCORE_STEP_S,
    ami_audio,
    ami_truth,
    grid_audio,
    needs_ami,
    needs_grid,
)
from video_analysis.analyzers.base import SummaryInput
from video_analysis.analyzers.speech import SpeechAnalyzer, figures, praat, voice
from video_analysis.schemas import MediaInfo, SpeechSection, SplitManifest
from video_analysis.schemas.parts import (
    SegmentRow,
    SpeakerWindow,
    SpeechPart,
    Track,
    VoicedStretch,
    VoiceSignal,
    WordRow,
)
from video_analysis.schemas.speech import Word
from video_analysis.settings import Settings

RATE = 16_000
needs_praat = pytest.mark.skipif(
    find_spec("parselmouth") is None,
    reason="needs the speech extra (praat-parselmouth): pip install 'video-analysis[speech]'",
)
# 128 samples at 16 kHz: a period that pulses on whole samples keep exactly.
PERIOD_SAMPLES = 128
F0_HZ = RATE / PERIOD_SAMPLES  # 125 Hz
FORMANTS = ((600.0, 80.0), (1200.0, 90.0), (2500.0, 120.0))  # (Hz, bandwidth Hz): an /a/


def synthetic_voice(
    periods: NDArray[np.float64], amplitudes: NDArray[np.float64]
) -> NDArray[np.float32]:
    """A vowel: one pulse per period (of the given length in samples and amplitude) through
    three formant resonators, after 0.2 s of silence and followed by 0.5 s of it."""
    from scipy.signal import lfilter

    lead = int(0.2 * RATE)
    excitation = np.zeros(lead + int(periods.sum()) + RATE // 2)
    at = lead
    for period, amplitude in zip(periods, amplitudes, strict=True):
        excitation[at] = amplitude
        at += int(round(period))
    y = excitation
    for frequency, bandwidth in FORMANTS:
        r = np.exp(-np.pi * bandwidth / RATE)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * frequency / RATE), r * r], y)
    return np.asarray(0.5 * y / np.abs(y).max(), dtype=np.float32)


def measure(x: NDArray[np.float32]) -> praat.ChunkVoice:
    import parselmouth

    return praat.measure(
        parselmouth,
        x,
        frames=voice.rms_db(x).size,
        hop_s=voice.HOP_S,
        offset=0.0,
        speech=[(0.0, x.size / RATE)],
    )


def pooled(stretches: list[VoicedStretch]) -> tuple[float, float]:
    periods = sum(s.periods for s in stretches)
    return (
        sum(s.jitter_percent * s.periods for s in stretches) / periods,
        sum(s.shimmer_percent * s.periods for s in stretches) / periods,
    )


PULSES = 250  # 2 s at 125 Hz


@needs_praat
def test_a_steady_pulse_train_gives_its_f0_and_near_zero_jitter_and_shimmer() -> None:
    clean = measure(synthetic_voice(np.full(PULSES, float(PERIOD_SAMPLES)), np.ones(PULSES)))

    assert np.nanmedian(clean.f0) == pytest.approx(F0_HZ, rel=0.005)
    # The 2 s of voicing on the 20 ms grid, less Praat's half window at each end.
    assert 90 <= int(clean.voiced.sum()) <= 101
    jitter, shimmer = pooled(clean.stretches)
    assert sum(s.periods for s in clean.stretches) >= PULSES - 5
    assert jitter < 0.05
    assert shimmer < 0.1
    # A periodic voice without noise: its harmonics-to-noise ratio is high.
    assert np.nanmean(clean.hnr_db) > 25


@needs_praat
def test_periods_that_vary_give_the_jitter_they_were_made_with() -> None:
    rng = np.random.default_rng(1)
    # Periods uniform within +-4%: consecutive ones differ by 2/3 of 4% on average.
    periods = PERIOD_SAMPLES * (1 + rng.uniform(-0.04, 0.04, PULSES))
    shaky = measure(synthetic_voice(periods, np.ones(PULSES)))

    jitter, _ = pooled(shaky.stretches)
    assert jitter == pytest.approx(100 * 2 / 3 * 0.04, rel=0.2)
    assert np.nanmedian(shaky.f0) == pytest.approx(F0_HZ, rel=0.02)


@needs_praat
def test_pulse_amplitudes_that_vary_give_the_shimmer_they_were_made_with() -> None:
    rng = np.random.default_rng(2)
    # Amplitudes uniform within +-20%: consecutive ones differ by 2/3 of 20% on average.
    amplitudes = 1 + rng.uniform(-0.2, 0.2, PULSES)
    uneven = measure(synthetic_voice(np.full(PULSES, float(PERIOD_SAMPLES)), amplitudes))

    jitter, shimmer = pooled(uneven.stretches)
    assert shimmer == pytest.approx(100 * 2 / 3 * 0.2, rel=0.2)
    assert jitter < 0.2


@needs_praat
def test_noise_lowers_the_harmonics_to_noise_ratio_to_about_the_snr() -> None:
    x = synthetic_voice(np.full(PULSES, float(PERIOD_SAMPLES)), np.ones(PULSES))
    voiced = np.abs(x) > 0
    power = float(np.mean(x[voiced].astype(np.float64) ** 2))
    noise = np.random.default_rng(3).standard_normal(x.size) * np.sqrt(power) * 10 ** (-10 / 20)
    noisy = measure(np.asarray(x + noise, dtype=np.float32))

    assert np.nanmean(noisy.hnr_db) == pytest.approx(10.0, abs=3.0)
    assert np.nanmedian(noisy.f0) == pytest.approx(F0_HZ, rel=0.005)


@needs_praat
def test_pitch_is_read_on_the_grid_at_the_right_time() -> None:
    # 100 Hz for 1 s, then 200 Hz: frames on the 20 ms grid change with the sound, not
    # with Praat's own frame times.
    t = np.arange(2 * RATE) / RATE
    phase = 2 * np.pi * np.cumsum(np.where(t < 1.0, 100.0, 200.0)) / RATE
    found = measure(np.asarray(0.5 * np.sin(phase), dtype=np.float32))

    grid = np.arange(found.f0.size) * voice.HOP_S
    before = found.f0[(grid > 0.1) & (grid < 0.96)]
    after = found.f0[(grid > 1.04) & (grid < 1.9)]
    assert np.allclose(before, 100.0, rtol=0.01)
    assert np.allclose(after, 200.0, rtol=0.01)


def test_frames_are_read_as_praat_reads_a_value_at_a_time() -> None:
    # Praat frames at 0.015 + i * 0.0115 s holding a straight line, the fourth unvoiced.
    values = 100.0 + 10.0 * np.arange(8)
    values[3] = np.nan
    grid = np.array([0.0, 0.01, 0.02, 0.04, 0.05, 0.06])
    read = praat.on_grid(grid, 0.015, 0.0115, values)

    # 0.0: over half a frame before the first one: no value (Praat: undefined).
    assert np.isnan(read[0])
    # 0.01: nearest is frame 0 (0.015), with none before it: its value alone.
    assert read[1] == pytest.approx(100.0)
    # 0.02: between frames 0 and 1 on the line.
    assert read[2] == pytest.approx(100.0 + 10.0 * (0.02 - 0.015) / 0.0115)
    # 0.04: nearest is frame 2 (0.038), its other neighbour (frame 3) unvoiced: frame 2 alone.
    assert read[3] == pytest.approx(120.0)
    # 0.05: nearest is frame 3 (0.0495), unvoiced: no value.
    assert np.isnan(read[4])
    # 0.06: nearest is frame 4 (0.061); frame 3 on the other side is unvoiced.
    assert read[5] == pytest.approx(140.0)


def test_level_is_the_rms_of_a_window_centred_on_each_frame() -> None:
    x = np.asarray(0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE), dtype=np.float32)
    db = voice.rms_db(x)

    assert db.size == 1 + x.size // voice.HOP_LENGTH
    # A sine of amplitude 0.5 has RMS 0.5/sqrt(2): -9.03 dBFS inside the sound...
    assert np.allclose(db[5:-5], 20 * np.log10(0.5 / np.sqrt(2)), atol=0.05)
    # ...and half its window is zeros at the ends: 3 dB less.
    assert db[0] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)) - 3.01, abs=0.1)


def test_voice_too_short_for_praat_gives_no_measures() -> None:
    found = praat.measure(
        None,
        np.zeros(500, dtype=np.float32),
        frames=2,
        hop_s=voice.HOP_S,
        offset=0.0,
        speech=[(0.0, 0.03)],
    )
    assert np.isnan(found.f0).all() and found.stretches == []


@needs_praat
def test_silence_and_noise_give_no_pitch_and_no_stretches() -> None:
    for x in (
        np.zeros(2 * RATE, dtype=np.float32),
        np.asarray(0.1 * np.random.default_rng(4).standard_normal(2 * RATE), dtype=np.float32),
    ):
        found = measure(x)
        assert not found.voiced.any() and found.stretches == []
        assert np.isnan(found.hnr_db).all()


# --- per speaker --------------------------------------------------------------------------------


def stretch(start: float, periods: int, jitter: float, shimmer: float) -> VoicedStretch:
    return VoicedStretch(
        start=start,
        end=start + periods / F0_HZ,
        periods=periods,
        jitter_percent=jitter,
        shimmer_percent=shimmer,
    )


def track(seconds: float, hnr: float) -> Track:
    """A track voiced everywhere at 125 Hz with one HNR."""
    n = int(seconds / voice.HOP_S)
    return Track(start=0.0, hop_s=voice.HOP_S, f0=[F0_HZ] * n, db=[-20.0] * n, hnr=[hnr] * n)


def two_speaker_part() -> SpeechPart:
    """S1 speaks 0-3 s, S2 3.5-5.75 s (speaker windows along two axes), a word every 0.25 s;
    each has voiced stretches with its own jitter and shimmer, and S2 a lower HNR."""
    words = [
        WordRow(start=t, end=t + 0.24, word=" word", probability=0.9)
        for t in [*np.arange(0.0, 2.9, 0.25), *np.arange(3.5, 5.6, 0.25)]
    ]
    segment = SegmentRow(
        start=0.0,
        end=5.75,
        text=" word" * len(words),
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.2,
        words=words,
    )
    windows = [
        SpeakerWindow(start=a, end=b, clarity=0.9, embedding=list(v))
        for (a, b), v in zip(
            [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (3.5, 5.0), (4.25, 5.75)],
            [[0.0, 1.0], [0.05, 1.0], [0.0, 0.98], [1.0, 0.0], [1.0, 0.04]],
            strict=True,
        )
    ]
    n = int(6.0 / voice.HOP_S)
    hnr: list[float | None] = [15.0 if k * voice.HOP_S < 3.25 else 5.0 for k in range(n)]
    return SpeechPart(
        start=0.0,
        end=6.0,
        duration_s=6.0,
        language="en",
        language_source="detected",
        segments=[segment],
        voice=VoiceSignal(samples=6 * RATE, clipped=0),
        track=Track(start=0.0, hop_s=voice.HOP_S, f0=[F0_HZ] * n, db=[-20.0] * n, hnr=hnr),
        voiced_stretches=[
            # S1: 300 periods at 1% and 100 at 3% jitter; S2: 400 at 2%, and one stretch
            # whose middle (3.29 s) falls between their words, which nobody gets.
            stretch(0.1, 300, 1.0, 5.0),
            stretch(2.5, 100, 3.0, 9.0),
            stretch(3.25, 10, 50.0, 50.0),
            stretch(3.55, 400, 2.0, 8.0),
        ],
        speech_regions=[(0.0, 5.75)],
        speaker_windows=windows,
    )


def summarize(part: SpeechPart) -> SpeechSection:
    manifest = SplitManifest(video_id="v", media=MediaInfo(duration_s=6.0))
    section = SpeechAnalyzer.summarize(
        SummaryInput(manifest=manifest, settings=Settings(), audio=[part])
    )["speech"]
    assert isinstance(section, SpeechSection)
    return section


def test_each_speaker_gets_the_voice_measures_of_the_stretches_under_their_words() -> None:
    section = summarize(two_speaker_part())

    assert section.speakers is not None
    first, second = (section.speakers.per_speaker[name] for name in ("S1", "S2"))
    assert first is not None and second is not None
    assert first.voice is not None and second.voice is not None
    # Weighted by periods: (300 * 1% + 100 * 3%) / 400.
    assert first.voice.jitter_local_percent == pytest.approx(1.5)
    assert first.voice.shimmer_local_percent == pytest.approx(6.0)
    assert first.voice.periods == 400 and first.voice.stretches == 2
    assert first.voice.hnr_db == pytest.approx(15.0)
    assert second.voice.jitter_local_percent == pytest.approx(2.0)
    assert second.voice.hnr_db == pytest.approx(5.0)
    # S2's 400 periods at 125 Hz last 3.2 s, more than their 1.8 s of words: coverage 1.
    assert second.voice.coverage == 1.0
    # The candidate (most talk: S1) gives the section's figures; everyone pools both.
    assert section.voice == first.voice
    assert section.everyone is not None and section.everyone.voice is not None
    assert section.everyone.voice.periods == 800
    assert section.voice_quality is not None
    assert "per speaker" in section.voice_quality.not_measured


def test_too_few_periods_give_null_jitter_and_shimmer_with_the_reason() -> None:
    words = [Word(start=0.0, end=1.0, word=" hello", probability=0.9, speaker="S1")]
    part = SpeechPart(
        start=0.0,
        end=2.0,
        duration_s=2.0,
        voice=VoiceSignal(samples=2 * RATE, clipped=0),
        track=track(2.0, 12.0),
        voiced_stretches=[stretch(0.1, 100, 1.0, 5.0)],
    )

    found = figures.speaker_figures(
        words, "S1", chunks=[part], language="en", min_pause=0.3, received_s=2.0
    )

    assert found is not None and found.voice is not None
    measured = found.voice
    assert measured.jitter_local_percent is None and measured.shimmer_local_percent is None
    assert measured.cannot_assess is not None
    assert "100 glottal periods" in measured.cannot_assess
    assert f"under {voice.MIN_PERIODS}" in measured.cannot_assess
    # HNR has too few frames too (1 s of words: 50 frames).
    assert measured.hnr_db is None and "harmonics-to-noise" in measured.cannot_assess
    assert measured.periods == 100
    # 100 periods at 125 Hz: 0.8 s of the 1 s under the word.
    assert measured.coverage == pytest.approx(0.8, abs=0.03)
    assert found.pitch is not None and found.pitch.coverage == 1.0


def test_parts_without_stretches_give_measures_that_say_nothing_was_measured() -> None:
    words = [Word(start=0.0, end=3.0, word=" hello", probability=0.9, speaker="S1")]
    old = SpeechPart(
        start=0.0,
        end=3.0,
        duration_s=3.0,
        voice=VoiceSignal(samples=3 * RATE, clipped=0),
        track=Track(start=0.0, hop_s=voice.HOP_S, f0=[F0_HZ] * 150, db=[-20.0] * 150),
    )
    found = figures.speaker_figures(
        words, "S1", chunks=[old], language="en", min_pause=0.3, received_s=3.0
    )
    assert found is not None and found.voice is not None
    assert found.voice.periods == 0 and found.voice.coverage == 0.0
    assert found.voice.jitter_local_percent is None and found.voice.hnr_db is None


# --- real recordings ----------------------------------------------------------------------------

# Adult speaking F0 is about 85-155 Hz for men and 165-255 Hz for women (Titze, Principles of
# Voice Production); 140 Hz parts the AMI speakers measured here by 18 Hz or more.
SEX_BOUNDARY_HZ = 140.0
MIN_SPEAKER_FRAMES = 100  # 2 s of voicing where the speaker is alone


@needs_praat
@needs_ami
def test_real_meeting_speakers_pitch_agrees_with_their_sex() -> None:
    truth = ami_truth()
    checked: dict[str, float] = {}
    for name in AMI_FILES:
        x = ami_audio(name)
        found = measure(x)
        speakers = truth[name]
        grid = np.arange(found.f0.size) * voice.HOP_S
        column = np.minimum(np.round(grid / SCORE_STEP_S).astype(int), speakers.active.shape[1] - 1)
        alone = speakers.active.sum(axis=0)[column] == 1
        for row, who in enumerate(speakers.speakers):
            f0 = found.f0[speakers.active[row][column] & alone]
            f0 = f0[np.isfinite(f0)]
            if f0.size >= MIN_SPEAKER_FRAMES:
                checked[f"{name} {who}"] = float(np.median(f0))
    print(checked)
    assert len(checked) >= 4
    for label, median in checked.items():
        # AMI names speakers F... or M... by sex.
        female = label.split()[1].startswith("F")
        assert (median > SEX_BOUNDARY_HZ) == female, label


@needs_praat
@needs_grid
@pytest.mark.parametrize("clip", GRID_CLIPS)
def test_a_real_talking_head_clip_gets_plausible_voice_measures(clip: str) -> None:
    found = measure(grid_audio(clip))

    median = float(np.nanmedian(found.f0))
    jitter, shimmer = pooled(found.stretches)
    hnr = float(np.nanmean(found.hnr_db))
    print(
        f"{clip}: F0 {median:.1f} Hz, jitter {jitter:.2f}%, shimmer {shimmer:.2f}%, HNR {hnr:.1f}"
    )
    assert 75 < median < 260
    # One read sentence: about 1.2-1.5 s of voicing.
    assert int(found.voiced.sum()) >= 40
    # Connected speech through a camera's microphone: higher than a sustained vowel's, but of
    # the order field studies of read speech report (jitter a few %, shimmer around 10%).
    assert 0.3 < jitter < 6
    assert 2 < shimmer < 20
    assert 3 < hnr < 25

"""Spoken-language choice of a chunk: windows, combined scores, the default-language rule and
the settings that configure it. A fake scorer stands in for Whisper."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from video_analysis.analyzers.speech.language import (
    CONFIDENT_SHARE,
    MAX_WINDOWS,
    MIN_WINDOW_S,
    REPORTED_SCORES,
    SHORT_CONFIDENT_SHARE,
    SHORT_SPEECH_S,
    WHISPER_WINDOW_S,
    LanguageChoice,
    Scorer,
    combine,
    decide,
    detect,
    given,
    speech_only,
    windows,
)
from video_analysis.analyzers.speech.voice import SAMPLE_RATE
from video_analysis.settings import Settings


def seconds(s: float) -> int:
    return round(s * SAMPLE_RATE)


def recording_scorer(calls: list[int], result: Mapping[str, float]) -> Scorer:
    """A scorer that appends the length of every array it scores to ``calls``."""

    def score(audio: NDArray[np.float32]) -> Mapping[str, float]:
        calls.append(int(audio.size))
        return dict(result)

    return score


# --- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secs", [0.0, 1.0, MIN_WINDOW_S, 2 * MIN_WINDOW_S - 0.1])
def test_speech_shorter_than_two_minimum_windows_is_one_window(secs: float) -> None:
    n = seconds(secs)
    assert windows(n) == [slice(0, n)]


def test_twelve_seconds_of_speech_make_two_windows() -> None:
    parts = windows(seconds(12.0))
    assert len(parts) == 2
    assert [p.stop - p.start for p in parts] == [seconds(6.0), seconds(6.0)]


def test_twenty_seconds_of_speech_are_capped_at_max_windows() -> None:
    assert MAX_WINDOWS == 3
    assert len(windows(seconds(20.0))) == MAX_WINDOWS


def test_long_speech_gets_enough_windows_that_none_exceeds_whisper_window() -> None:
    parts = windows(seconds(95.0))
    assert len(parts) >= 4
    assert all(p.stop - p.start <= WHISPER_WINDOW_S * SAMPLE_RATE for p in parts)


@pytest.mark.parametrize("n", [seconds(12.0) + 1, seconds(20.0) + 7, seconds(95.0) + 3])
def test_windows_cover_all_samples_contiguously(n: int) -> None:
    parts = windows(n)
    assert parts[0].start == 0
    assert parts[-1].stop == n
    for a, b in zip(parts, parts[1:], strict=False):
        assert a.stop == b.start
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1


# --- combine ----------------------------------------------------------------------------------


def test_restriction_to_candidates_renormalises_to_one() -> None:
    shares = combine([(1.0, {"en": 0.6, "ko": 0.2, "ja": 0.2})], ["en", "ko"])
    assert set(shares) == {"en", "ko"}
    assert shares["en"] == pytest.approx(0.75)
    assert shares["ko"] == pytest.approx(0.25)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_no_candidates_keeps_every_scored_language() -> None:
    shares = combine([(1.0, {"en": 0.5, "ko": 0.3, "ja": 0.2})], [])
    assert shares == pytest.approx({"en": 0.5, "ko": 0.3, "ja": 0.2})


def test_windows_combine_as_seconds_weighted_mean_of_log_probabilities() -> None:
    # 4 s saying en strongly, 2 s saying ko weakly: weighted geometric means, renormalised.
    scored = [(4.0, {"en": 0.9, "ko": 0.1, "ja": 0.0}), (2.0, {"en": 0.4, "ko": 0.6, "ja": 0.0})]
    shares = combine(scored, ["en", "ko"])
    g_en = (0.9**4 * 0.4**2) ** (1 / 6)
    g_ko = (0.1**4 * 0.6**2) ** (1 / 6)
    assert shares["en"] == pytest.approx(g_en / (g_en + g_ko))
    assert shares["en"] == pytest.approx(0.79078, abs=1e-5)
    # Not the arithmetic mean of the probabilities (which would give en 0.7333).
    assert shares["en"] != pytest.approx((4 * 0.9 + 2 * 0.4) / 6, abs=1e-3)
    assert shares["ko"] == pytest.approx(1 - shares["en"])


def test_unknown_candidate_code_is_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        combine([(1.0, {"en": 0.9, "ko": 0.1})], ["en", "xx"])


def test_combining_no_windows_is_refused() -> None:
    with pytest.raises(ValueError):
        combine([], ["en", "ko"])


def test_combined_shares_are_sorted_best_first() -> None:
    shares = combine([(1.0, {"en": 0.1, "ja": 0.3, "ko": 0.6})], [])
    assert list(shares) == ["ko", "ja", "en"]


# --- decide -----------------------------------------------------------------------------------


def test_best_clearly_ahead_is_detected() -> None:
    choice = decide({"en": 0.9, "ko": 0.1}, "ko", 0.3)
    assert (choice.language, choice.source) == ("en", "detected")
    assert choice.probability == pytest.approx(0.9)


def test_default_language_is_taken_when_it_is_a_close_runner_up() -> None:
    choice = decide({"en": 0.6, "ko": 0.4}, "ko", 0.3)
    assert (choice.language, choice.source) == ("ko", "default")
    assert choice.probability == pytest.approx(0.4)


def test_default_that_is_no_contender_is_not_taken() -> None:
    choice = decide({"en": 0.6, "cy": 0.31, "ko": 0.0001}, "ko", 0.3)
    assert (choice.language, choice.source) == ("en", "detected")
    assert choice.probability == pytest.approx(0.6)


def test_best_that_is_the_default_is_detected() -> None:
    choice = decide({"ko": 0.55, "en": 0.45}, "ko", 0.3)
    assert (choice.language, choice.source) == ("ko", "detected")
    assert choice.probability == pytest.approx(0.55)


def test_zero_margin_always_takes_the_best() -> None:
    assert decide({"en": 0.5, "ko": 0.5}, "ko", 0.0).language == "en"
    assert decide({"en": 0.51, "ko": 0.49}, "ko", 0.0).source == "detected"


def test_reported_scores_are_the_best_few_rounded() -> None:
    shares = {"en": 0.512345, "ko": 0.212345, "ja": 0.15, "cy": 0.1, "de": 0.024}
    choice = decide(shares, "ko", 0.3)
    assert REPORTED_SCORES == 3
    assert choice.scores == {"en": 0.5123, "ko": 0.2123, "ja": 0.15}


# --- detect -----------------------------------------------------------------------------------


def test_confident_whole_speech_score_decides_with_one_call() -> None:
    calls: list[int] = []
    speech = np.zeros(seconds(20.0), dtype=np.float32)
    scorer = recording_scorer(calls, {"en": 0.9, "ko": 0.05, "ja": 0.05})
    choice = detect(speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3)
    assert calls == [speech.size]
    assert choice.language == "en"
    assert choice.source == "detected"
    assert choice.probability == pytest.approx(0.9 / 0.95)
    assert choice.probability >= CONFIDENT_SHARE


def test_unconfident_whole_speech_is_scored_again_per_window() -> None:
    calls: list[int] = []
    speech = np.zeros(seconds(20.0), dtype=np.float32)
    scorer = recording_scorer(calls, {"en": 0.6, "ko": 0.4})
    choice = detect(speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3)
    assert calls[0] == speech.size
    assert len(calls) == 1 + MAX_WINDOWS
    assert sum(calls[1:]) == speech.size
    assert all(n < speech.size for n in calls[1:])
    assert (choice.language, choice.source) == ("ko", "default")
    assert choice.probability == pytest.approx(0.4)


def test_unconfident_speech_too_short_for_two_windows_keeps_its_one_score() -> None:
    calls: list[int] = []
    speech = np.zeros(seconds(6.0), dtype=np.float32)
    scorer = recording_scorer(calls, {"en": 0.6, "ko": 0.4})
    detect(speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3)
    assert calls == [speech.size]


def test_speech_longer_than_whisper_window_is_only_scored_in_windows() -> None:
    calls: list[int] = []
    speech = np.zeros(seconds(95.0), dtype=np.float32)
    scorer = recording_scorer(calls, {"en": 0.95, "ko": 0.05})
    choice = detect(speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3)
    assert speech.size not in calls
    assert len(calls) >= 4
    assert all(n <= WHISPER_WINDOW_S * SAMPLE_RATE for n in calls)
    assert sum(calls) == speech.size
    assert choice.language == "en"


# --- the interview's language -----------------------------------------------------------------


@pytest.mark.parametrize("en", [0.61, 0.90])
def test_a_short_answer_keeps_its_interviews_language_unless_another_is_near_certain(
    en: float,
) -> None:
    """Korean words of 0.6-2.4 s scored English first at up to 0.90 (../shared/data/korean);
    in a Korean interview they stay Korean, even where the default language is English."""
    speech = np.zeros(seconds(1.0), dtype=np.float32)
    scorer = recording_scorer([], {"en": en, "ko": 1 - en})
    choice = detect(
        speech, scorer, candidates=["en", "ko"], default="en", margin=0.3, interview="ko"
    )
    assert (choice.language, choice.source) == ("ko", "interview")
    assert choice.probability == pytest.approx(1 - en)
    assert choice.scores == {"en": pytest.approx(en), "ko": pytest.approx(1 - en)}


def test_a_short_answer_in_another_language_that_is_near_certain_is_detected() -> None:
    """English words of GRID scored English at 0.969-1.0."""
    speech = np.zeros(seconds(1.0), dtype=np.float32)
    en = SHORT_CONFIDENT_SHARE + 0.02
    scorer = recording_scorer([], {"en": en, "ko": 1 - en})
    choice = detect(
        speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3, interview="ko"
    )
    assert (choice.language, choice.source) == ("en", "detected")


def test_a_long_answer_is_detected_with_the_interviews_language_as_the_fallback() -> None:
    speech = np.zeros(seconds(SHORT_SPEECH_S + 1.0), dtype=np.float32)
    clear = recording_scorer([], {"en": 0.9, "ko": 0.1})
    choice = detect(
        speech, clear, candidates=["en", "ko"], default="ko", margin=0.3, interview="ko"
    )
    assert (choice.language, choice.source) == ("en", "detected")
    unclear = recording_scorer([], {"en": 0.6, "ko": 0.4})
    choice = detect(
        speech, unclear, candidates=["en", "ko"], default="en", margin=0.3, interview="ko"
    )
    assert (choice.language, choice.source) == ("ko", "interview")


def test_without_an_interview_a_short_answer_follows_the_default_rule() -> None:
    speech = np.zeros(seconds(1.0), dtype=np.float32)
    scorer = recording_scorer([], {"en": 0.9, "ko": 0.1})
    choice = detect(speech, scorer, candidates=["en", "ko"], default="ko", margin=0.3)
    assert (choice.language, choice.source) == ("en", "detected")


# --- given, speech_only -----------------------------------------------------------------------


def test_given_language_is_lower_cased_and_certain() -> None:
    assert given("EN", "metadata") == LanguageChoice("en", 1.0, "metadata", {})


def test_speech_only_joins_the_spans() -> None:
    samples = np.arange(10, dtype=np.float32)
    joined = speech_only(samples, [{"start": 1, "end": 3}, {"start": 6, "end": 8}])
    assert joined.tolist() == [1.0, 2.0, 6.0, 7.0]
    assert joined.dtype == np.float32


def test_speech_only_without_spans_is_empty() -> None:
    joined = speech_only(np.ones(10, dtype=np.float32), [])
    assert joined.size == 0
    assert joined.dtype == np.float32


# --- settings ---------------------------------------------------------------------------------


def test_default_language_outside_the_allowed_languages_is_refused() -> None:
    with pytest.raises(ValidationError, match="speech_default_language"):
        Settings(speech_languages=["en", "ko"], speech_default_language="ja")


def test_language_codes_are_stripped_and_lower_cased() -> None:
    settings = Settings(speech_languages=[" EN", "Ko"], speech_default_language="KO")
    assert settings.speech_languages == ["en", "ko"]
    assert settings.speech_default_language == "ko"


def test_any_default_is_allowed_when_every_language_is() -> None:
    settings = Settings(speech_languages=[], speech_default_language="ja")
    assert settings.speech_default_language == "ja"


def test_the_known_languages_are_whispers() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from video_analysis.languages import WHISPER_LANGUAGES

    assert WHISPER_LANGUAGES == tuple(_LANGUAGE_CODES)


@pytest.mark.parametrize("field", ["speech_language", "speech_default_language"])
def test_a_setting_naming_an_unknown_language_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match="unknown language 'zz'"):
        Settings(**{field: "zz"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown language 'xx'"):
        Settings(speech_languages="en,xx")  # type: ignore[arg-type]
    assert Settings(**{field: " KO", "speech_languages": ["en", "ko"]}).model_dump()[field] == "ko"  # type: ignore[arg-type]


def test_beam_sizes_per_language_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VA_SPEECH_LANGUAGE_BEAM_SIZES", "KO=5, ja=3")
    assert Settings().speech_language_beam_sizes == {"ko": 5, "ja": 3}
    monkeypatch.setenv("VA_SPEECH_LANGUAGE_BEAM_SIZES", '{"en": 2}')
    assert Settings().speech_language_beam_sizes == {"en": 2}
    for wrong in ("ko", "ko=0", "zz=5"):
        monkeypatch.setenv("VA_SPEECH_LANGUAGE_BEAM_SIZES", wrong)
        with pytest.raises(ValidationError):
            Settings()

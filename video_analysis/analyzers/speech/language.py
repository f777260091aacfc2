"""The spoken language of one audio chunk, from Whisper's language scores over its speech.

Whisper scores languages on one 30 s window. On a short or noisy answer that single score is
fragile: on 118 real English excerpts (GRID, AMI far-field cuts of 3-30 s) whisper-base put
Welsh or German first 5 times, each time with the top language under 0.6. So:

1. The chunk's speech (VAD spans, silence cut out) is scored as a whole. When one candidate
   language holds at least ``CONFIDENT_SHARE`` of the candidates' probability, that decides.
2. Otherwise the speech is scored again in up to ``MAX_WINDOWS`` windows of at least
   ``MIN_WINDOW_S`` seconds, and the windows' log-probabilities are averaged, weighted by their
   seconds of speech (a product of the windows' evidence). This turned both Welsh excerpts
   back into English; speech too short for two windows keeps its one score.
3. Scores are restricted to the configured languages and renormalised. When the best is not
   ahead of the runner-up by the configured margin, the configured default language is taken
   and ``source`` says ``default``.
4. An answer of an interview whose earlier answers were heard in one language (the splitter
   looks it up by ``interview_id``) takes that language instead of the default; and when its
   speech is short (under ``SHORT_SPEECH_S``), it keeps the interview's language unless
   another one holds ``SHORT_CONFIDENT_SHARE``: on one to three words (0.6-2.4 s) of the real
   spontaneous Korean of ../shared/data/korean, 9 of 29 cuts scored English first (at
   0.56-0.90), while English words of GRID scored English at 0.969-1.0. ``source`` then says
   ``interview``. A single word's score moves by several hundredths with the host's matrix
   kernels (English "Lay" scored 0.940 with MKL's AVX-512 path on an Intel host, 0.975 on
   AVX2 ones; ``numerics.py``): such a word may keep the interview's language.

Per chunk only: chunks of one video are analysed on different workers. The join picks the
language with the most speech time (``transcript.video_language``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .voice import SAMPLE_RATE

LanguageSource = Literal["metadata", "setting", "detected", "default", "interview"]
#: One window's scores: language code -> probability (Whisper's ~100 languages).
Scores = Mapping[str, float]
#: Scores one window of 16 kHz speech (at most 30 s): one Whisper encoder pass.
Scorer = Callable[[NDArray[np.float32]], Scores]

# Whisper's encoder sees 30 s at a time.
WHISPER_WINDOW_S = 30.0
# Whole-speech share above which no windows are scored. No real English excerpt measured was
# wrong above 0.57 unrestricted, and with en,ko every one scored en >= 0.835: with the default
# languages windows cost nothing on English (118 excerpts, 118 encoder passes; 128 with any
# language allowed, 157 when windows are always scored).
CONFIDENT_SHARE = 0.8
# Windows of 5 s or more, at most 3: 3 s windows fixed no more excerpts than 5 s ones and cost
# 193 passes instead of 157; 10 s windows left one Welsh excerpt.
MIN_WINDOW_S = 5.0
MAX_WINDOWS = 3
# Candidates listed in a chunk's ``language_scores``.
REPORTED_SCORES = 3
# Speech too short for Whisper's language scores to overrule an interview's language (the
# shortest that gives two windows), and the share another language needs to overrule it.
SHORT_SPEECH_S = MIN_WINDOW_S
SHORT_CONFIDENT_SHARE = 0.95


@dataclass(frozen=True)
class LanguageChoice:
    """A chunk's language, the probability of it among the candidates, the rule that chose
    it, and the best candidates' shares (empty when the language was given, not detected)."""

    language: str
    probability: float
    source: LanguageSource
    scores: dict[str, float] = field(default_factory=dict)


def given(language: str, source: LanguageSource) -> LanguageChoice:
    """A language the upload (``metadata``) or the deployment (``setting``) names."""
    return LanguageChoice(language.lower(), 1.0, source)


def speech_only(
    samples: NDArray[np.float32], spans: Sequence[Mapping[str, int]]
) -> NDArray[np.float32]:
    """The samples inside the VAD spans (``start``/``end`` in samples), joined."""
    if not spans:
        return samples[:0]
    return np.concatenate([samples[int(s["start"]) : int(s["end"])] for s in spans])


def windows(n_samples: int, sample_rate: int = SAMPLE_RATE) -> list[slice]:
    """Equal windows over ``n_samples`` of speech: as many as fit ``MIN_WINDOW_S`` up to
    ``MAX_WINDOWS``, and always enough that none is longer than Whisper's 30 s."""
    seconds = n_samples / sample_rate
    count = max(
        1,
        math.ceil(seconds / WHISPER_WINDOW_S),
        min(MAX_WINDOWS, int(seconds // MIN_WINDOW_S)),
    )
    bounds = np.linspace(0, n_samples, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def combine(scored: Sequence[tuple[float, Scores]], candidates: Sequence[str]) -> dict[str, float]:
    """Each candidate's share, best first: the windows' log-probabilities averaged with the
    windows' weights (seconds of speech), renormalised over ``candidates`` (every language
    scored when empty)."""
    if not scored:
        raise ValueError("no scored windows to combine")
    known = scored[0][1]
    names = list(candidates) or list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"not Whisper language codes: {', '.join(unknown)}")
    total = sum(weight for weight, _ in scored)
    mean_log = {
        name: sum(weight * math.log(max(float(s[name]), 1e-12)) for weight, s in scored) / total
        for name in names
    }
    top = max(mean_log.values())
    exp = {name: math.exp(value - top) for name, value in mean_log.items()}
    norm = sum(exp.values())
    return dict(sorted(((n, e / norm) for n, e in exp.items()), key=lambda item: -item[1]))


def decide(
    shares: Mapping[str, float],
    default: str,
    margin: float,
    default_source: LanguageSource = "default",
) -> LanguageChoice:
    """The best candidate, unless it leads by less than ``margin`` and ``default`` is itself
    within ``margin`` of it: then ``default`` (``default_source`` says where it comes from).

    A default that is no contender is never taken: with every language allowed, a 3 s
    English clip in noise scored en 0.60, Welsh 0.31, Korean nothing, and falling back to
    the Korean default turned it into Korean-looking nonsense.
    """
    ranked = list(shares.items())
    best, p_best = ranked[0]
    p_next = ranked[1][1] if len(ranked) > 1 else 0.0
    p_default = float(shares.get(default, 0.0))
    scores = _reported(shares)
    if p_best - p_next < margin and best != default and p_best - p_default < margin:
        return LanguageChoice(default, p_default, default_source, scores)
    return LanguageChoice(best, p_best, "detected", scores)


def in_interview(shares: Mapping[str, float], interview: str) -> LanguageChoice:
    """A short answer's language in an interview spoken in ``interview``: that language,
    unless another candidate holds ``SHORT_CONFIDENT_SHARE``."""
    best, p_best = next(iter(shares.items()))
    scores = _reported(shares)
    if best != interview and p_best >= SHORT_CONFIDENT_SHARE:
        return LanguageChoice(best, p_best, "detected", scores)
    return LanguageChoice(interview, float(shares.get(interview, 0.0)), "interview", scores)


def _reported(shares: Mapping[str, float]) -> dict[str, float]:
    """The best candidates' shares (``shares`` best first), as a chunk reports them."""
    return {name: round(p, 4) for name, p in list(shares.items())[:REPORTED_SCORES]}


def detect(
    speech: NDArray[np.float32],
    score: Scorer,
    *,
    candidates: Sequence[str],
    default: str,
    margin: float,
    interview: str | None = None,
) -> LanguageChoice:
    """The language of ``speech`` (VAD speech only, 16 kHz): scored whole when that is
    confident, else over several windows; ``interview`` is the language of the interview's
    earlier answers, when known (see the module notes)."""
    if interview is not None and speech.size < SHORT_SPEECH_S * SAMPLE_RATE:
        return in_interview(combine([(1.0, score(speech))], candidates), interview)
    fallback = interview or default
    source: LanguageSource = "interview" if interview else "default"
    parts = windows(speech.size)
    if speech.size <= WHISPER_WINDOW_S * SAMPLE_RATE:
        whole = combine([(1.0, score(speech))], candidates)
        if len(parts) == 1 or next(iter(whole.values())) >= CONFIDENT_SHARE:
            return decide(whole, fallback, margin, source)
    shares = combine([(p.stop - p.start, score(speech[p])) for p in parts], candidates)
    return decide(shares, fallback, margin, source)

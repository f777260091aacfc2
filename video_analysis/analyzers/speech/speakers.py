"""Who speaks when: voice prints of word runs, clustered across the whole video.

Per chunk, runs of words without a pause get a voice print (MFCC statistics and pitch); per
video, the prints are clustered and each word takes the speaker of the run it is in.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import defaultdict
from importlib import import_module
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...settings import Settings
from .voice import HOP_S

log = logging.getLogger(__name__)

# A cluster is split in two only when that gains at least ``speech_speaker_min_gain`` nats of
# log-likelihood per MFCC frame (one espeak voice reading varied text: 0.49; a male and a
# female voice: 1.4) and each half holds at least MIN_SPEAKER_SHARE of the speaking time.
MIN_SPEAKER_SHARE = 0.05
# Speaker units: runs of words split at a gap of 0.3 s, a sentence end, or 4 s of speech;
# units under 0.5 s give too few frames for a voice print of their own.
UNIT_GAP_S = 0.3
UNIT_MAX_S = 4.0
MIN_UNIT_FOR_VOICE_S = 0.5


def voice_units(
    kept: list[dict[str, Any]],
    offset: float,
    f0: NDArray[Any],
    voiced: NDArray[Any],
    mfcc: NDArray[Any],
) -> list[dict[str, Any]]:
    """Runs of words without a pause, sentence end or more than 4 s in them, each with a voice
    print (MFCC 1-12 mean and std, median pitch) for the speaker clustering. Whisper segments
    are no use for that: one segment often holds a question and its answer."""
    units: list[list[dict[str, Any]]] = []
    for row in kept:
        for word in row["words"]:
            run = units[-1] if units else None
            if (
                run is None
                or word["start"] - run[-1]["end"] >= UNIT_GAP_S
                or run[-1]["word"].rstrip().endswith((".", "?", "!"))
                or word["end"] - run[0]["start"] > UNIT_MAX_S
            ):
                units.append([word])
            else:
                run.append(word)
    out = []
    for run in units:
        start, end = float(run[0]["start"]), float(run[-1]["end"])
        unit: dict[str, Any] = {"start": start, "end": end, "print": None}
        a = max(0, int((start - offset) / HOP_S))
        b = min(mfcc.shape[1], int(math.ceil((end - offset) / HOP_S)))
        if end - start >= MIN_UNIT_FOR_VOICE_S and b - a >= 5:
            frames = mfcc[1:, a:b]
            pitched = f0[a:b][voiced[a:b]]
            cov = np.cov(frames, bias=True)
            unit["print"] = {
                "frames": int(b - a),
                "mfcc_mean": [round(float(v), 3) for v in frames.mean(axis=1)],
                "mfcc_std": [round(float(v), 3) for v in frames.std(axis=1)],
                # Upper triangle: with the mean and the frame count the summary can pool
                # units into one Gaussian per speaker for the BIC.
                "mfcc_cov": [round(float(v), 3) for v in cov[np.triu_indices(cov.shape[0])]],
                "pitch_median_hz": round(float(np.median(pitched)), 1)
                if pitched.size >= 5
                else None,
            }
        out.append(unit)
    return out


def speakers(
    segments: list[dict[str, Any]],
    chunks: list[dict[str, Any]],
    settings: Settings,
    candidate_override: str | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Cluster the voice units' prints across the video, label them ``S1``, ``S2``... in order
    of appearance, and split segments where the speaker changes. Units without a print take
    the label of the nearest unit in time."""
    unique = {float(u["start"]): u for c in chunks for u in c.get("voice_units", [])}
    units = [unique[k] for k in sorted(unique)]
    printed = [i for i, u in enumerate(units) if u.get("print")]
    labels = np.zeros(len(units), dtype=int)
    if len(printed) >= 3:
        prints = [units[i]["print"] for i in printed]
        weights = np.array([float(units[i]["end"]) - float(units[i]["start"]) for i in printed])
        max_k = settings.speech_max_speakers
        min_gain = settings.speech_speaker_min_gain
        for i, label in zip(printed, _cluster(prints, weights, max_k, min_gain), strict=True):
            labels[i] = label
    if printed:
        for i in range(len(units)):
            if not units[i].get("print"):
                labels[i] = labels[min(printed, key=lambda j: abs(j - i))]
    names: dict[int, str] = {}
    for label in labels:
        names.setdefault(int(label), f"S{len(names) + 1}")
    unit_names = [names[int(label)] for label in labels]
    talk: defaultdict[str, float] = defaultdict(float)
    for unit, name in zip(units, unit_names, strict=True):
        talk[name] += float(unit["end"]) - float(unit["start"])
    starts = [float(u["start"]) for u in units]

    def speaker_of(word: dict[str, Any]) -> str:
        if not units:
            return "S1"
        mid = (float(word["start"]) + float(word["end"])) / 2
        i = bisect.bisect_right(starts, mid) - 1
        near = [j for j in (i, i + 1) if 0 <= j < len(units)]
        j = min(near, key=lambda k: max(starts[k] - mid, mid - float(units[k]["end"]), 0.0))
        return unit_names[j]

    split: list[dict[str, Any]] = []
    for seg in segments:
        groups: list[tuple[str, list[dict[str, Any]]]] = []
        for word in seg["words"]:
            name = speaker_of(word)
            if groups and groups[-1][0] == name:
                groups[-1][1].append(word)
            else:
                groups.append((name, [word]))
        for g, (name, words) in enumerate(groups):
            split.append(
                {
                    **seg,
                    "start": seg["start"] if g == 0 else words[0]["start"],
                    "end": seg["end"] if g == len(groups) - 1 else words[-1]["end"],
                    "text": "".join(w["word"] for w in words).strip()
                    if len(groups) > 1
                    else seg["text"],
                    "speaker": name,
                    "words": words,
                }
            )
    if not talk:
        for seg in split:
            talk[seg["speaker"]] += float(seg["end"]) - float(seg["start"])
    total = sum(talk.values()) or 1.0
    ratio = {name: round(talk[name] / total, 4) for name in sorted(talk)}
    candidate = max(ratio, key=lambda name: ratio[name]) if ratio else None
    source = "most_talk"
    if candidate_override and candidate_override in ratio:
        candidate, source = candidate_override, "metadata"
    return split, {
        "count": len(ratio),
        "talk_ratio": ratio,
        "candidate": candidate,
        "candidate_source": source,
        "method": "voice prints (MFCC, pitch) of word runs, Ward clustering, "
        "Gaussian likelihood gain",
    }


def _voice_vector(voice: dict[str, Any]) -> list[float]:
    pitch = voice.get("pitch_median_hz")
    semitones = 12 * math.log2(pitch / 100.0) if pitch else float("nan")
    return [*voice["mfcc_mean"], *voice["mfcc_std"], semitones]


def _cluster(
    prints: list[dict[str, Any]], weights: NDArray[Any], max_k: int, min_gain: float
) -> NDArray[Any]:
    """Speaker labels for the voice prints. Ward clustering of the z-scored prints proposes
    nested partitions for k = 2..max_k; each further split is kept only while the two halves
    are much better described by a full-covariance Gaussian of MFCC frames each than by one
    (a log-likelihood gain of at least ``min_gain`` nats per frame, pooled from the units'
    frame counts, means and covariances) and each half holds MIN_SPEAKER_SHARE of the talk.
    The gain is per frame, unlike a BIC, whose penalty grows only with log N: frames are
    correlated, and a BIC splits one voice reading varied text once the video is long (one
    espeak voice: 0.49 nats/frame; two voices, male and female: 1.4)."""
    hierarchy = import_module("scipy.cluster.hierarchy")
    x = np.array([_voice_vector(p) for p in prints], dtype=np.float64)
    # Units without pitch (whispered, unvoiced) take the median pitch.
    col = x[:, -1]
    col[~np.isfinite(col)] = np.nanmedian(col) if np.isfinite(col).any() else 0.0
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    tree = hierarchy.linkage(x, method="ward")
    stats = [_gaussian_stats(p) for p in prints]
    total = float(weights.sum()) or 1.0
    labels = np.zeros(len(x), dtype=int)
    for k in range(2, min(max_k, len(x)) + 1):
        proposal = hierarchy.fcluster(tree, k, criterion="maxclust") - 1
        groups = set(proposal.tolist())
        if len(groups) != k:
            break
        # The nested partition splits exactly one of the previous clusters in two.
        split = next(c for c in set(labels.tolist()) if len(set(proposal[labels == c])) > 1)
        halves = [np.flatnonzero((labels == split) & (proposal == c)) for c in groups]
        halves = [h for h in halves if h.size]
        gain = _split_gain(stats, halves[0], halves[1])
        shares = [float(weights[h].sum()) / total for h in halves]
        log.debug(
            "speakers: split %d -> %d, gain %.3f nats/frame, shares %s", k - 1, k, gain, shares
        )
        if gain < min_gain or min(shares) < MIN_SPEAKER_SHARE:
            break
        labels = proposal
    return labels


def _split_gain(
    stats: list[tuple[int, NDArray[Any], NDArray[Any]]], a: NDArray[Any], b: NDArray[Any]
) -> float:
    """Log-likelihood gain per frame of two Gaussians for the frames of ``a`` and ``b``
    over one Gaussian for them all."""
    n_a, ld_a = _pooled_logdet([stats[i] for i in a])
    n_b, ld_b = _pooled_logdet([stats[i] for i in b])
    n, ld = _pooled_logdet([stats[i] for i in (*a, *b)])
    return 0.5 * (n * ld - n_a * ld_a - n_b * ld_b) / n


def _pooled_logdet(members: list[tuple[int, NDArray[Any], NDArray[Any]]]) -> tuple[int, float]:
    d = members[0][1].size
    n = sum(m[0] for m in members)
    mean = sum(m[0] * m[1] for m in members) / n
    second = sum(m[0] * (m[2] + np.outer(m[1], m[1])) for m in members) / n
    cov = second - np.outer(mean, mean) + 1e-6 * np.eye(d)
    return n, float(np.linalg.slogdet(cov)[1])


def _gaussian_stats(voice: dict[str, Any]) -> tuple[int, NDArray[Any], NDArray[Any]]:
    mean = np.asarray(voice["mfcc_mean"], dtype=np.float64)
    d = mean.size
    cov = np.zeros((d, d))
    cov[np.triu_indices(d)] = voice["mfcc_cov"]
    cov = cov + np.triu(cov, 1).T
    return int(voice["frames"]), mean, cov

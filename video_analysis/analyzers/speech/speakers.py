"""Who speaks when: CAM++ speaker embeddings of speech windows, clustered over the whole video.

Per chunk (speech worker), speech regions are cut from Silero's speech probability at a low
threshold (``activity``), covered by windows of 1.5 s every 0.75 s, and each window gets a
192-dim CAM++ embedding and its *clarity* (mean speech probability). Per video (join), the
windows of every chunk are clustered together, so a speaker keeps one label across chunks
and workers:

- Clear windows (clarity >= 0.5; in a long video at most ``MAX_FOUNDERS`` of them, evenly
  spread) are clustered by average-linkage agglomerative clustering on cosine distance, cut
  where the mean similarity between two groups falls under ``speech_speaker_min_similarity``;
  never more than ``speech_max_speakers`` groups. Faint windows (quiet or far-field speech,
  breaths) and clear ones left out of a long video's clustering never open a speaker of their
  own: each joins the nearest group. Nor does a group of under 2% of the clustered windows
  (pyannote's minimum cluster size): it joins the large group most like it. Only a video with
  no clear window at all is clustered on its faint ones.
- Each stretch of a speech region takes the speaker of the nearest window centre; stretches of
  one speaker form the turns, and each word takes the speaker of the turn at its midpoint.

Calibrated on the nine real AMI meeting excerpts together (one threshold for all): see
``benchmarks/speakers.py`` for the figures.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module

import numpy as np
from numpy.typing import NDArray

from ...errors import MissingExtra
from ...schemas.parts import SpeakerWindow as WindowRow
from ...schemas.speech import Segment, Word
from ..speaker_embedding import MIN_WINDOW_S, plan_windows

# A window whose mean speech probability is at least this is clear enough to found a speaker.
CLEAR_WINDOW = 0.5
# Most windows the agglomerative clustering itself takes. Its memory and time grow with the
# square of their number (an hour of talk has ~4,000 clear windows: 71 MB of distances and
# 170 MB at the peak of the linkage); beyond this many, an even spread of the clear windows
# founds the speakers. 2,000 windows are 25 minutes of speech: hundreds per speaker.
MAX_FOUNDERS = 2000
# A group with fewer than this share of the clustered windows is no speaker of its own: in the
# interviews of benchmarks/interview.py stray groups of 1-3 s were counted as people (4 found
# of 2, a man and a woman over 30 minutes and two women over 20); with it, 2 of 2. 1% did as
# well there, but 5% merged a real speaker of 1.2 s in a 30 s AMI excerpt (trn03); 2% changes
# no AMI excerpt.
MIN_SPEAKER_SHARE = 0.02
# Decimals an embedding keeps on its way from the speech worker to the join (in JSON).
EMBEDDING_DECIMALS = 4
# How far from 1 a float32 row's norm may be and the row count as unit length: a normalised
# 192-number CAM++ embedding's norm is within ~1.5e-6 of it.
UNIT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class SpeakerWindow:
    """One embedded window of speech, times in seconds from the video start."""

    start: float
    end: float
    clarity: float
    embedding: NDArray[np.float32]

    @classmethod
    def from_row(cls, row: WindowRow) -> SpeakerWindow:
        """The window as a part's data carries it."""
        return cls(
            start=row.start,
            end=row.end,
            clarity=row.clarity,
            embedding=np.asarray(row.embedding, dtype=np.float32),
        )


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


# --- per chunk --------------------------------------------------------------------------------


def window_spans(
    regions: Sequence[tuple[float, float]], duration_s: float
) -> list[tuple[float, float]]:
    """The windows to embed over ``regions`` (seconds from the chunk start): regions shorter
    than an embedding window's minimum are widened around their centre to it, within the
    chunk."""
    widened = []
    for start, end in regions:
        if end - start < MIN_WINDOW_S and duration_s >= MIN_WINDOW_S:
            centre = (start + end) / 2
            start = min(max(0.0, centre - MIN_WINDOW_S / 2), duration_s - MIN_WINDOW_S)
            end = start + MIN_WINDOW_S
        widened.append((start, end))
    return plan_windows(widened)


def window_rows(
    spans: Sequence[tuple[float, float]],
    embeddings: NDArray[np.float32],
    clarity: Sequence[float],
    offset: float,
) -> list[WindowRow]:
    """The windows as they travel in a part's data (times from the video start)."""
    return [
        WindowRow(
            start=round(start + offset, 3),
            end=round(end + offset, 3),
            clarity=round(float(c), 3),
            embedding=np.asarray([round(float(v), EMBEDDING_DECIMALS) for v in vector]),
        )
        for (start, end), vector, c in zip(spans, embeddings, clarity, strict=True)
    ]


# --- per video --------------------------------------------------------------------------------


def cluster(
    embeddings: NDArray[np.float32],
    clear: NDArray[np.bool_],
    *,
    min_similarity: float,
    max_speakers: int,
) -> NDArray[np.int64]:
    """A speaker index for each window (0-based, not yet in order of appearance).

    Clear windows are grouped by average-linkage clustering on cosine distance, cut at
    ``1 - min_similarity`` (or, when that gives more than ``max_speakers`` groups, where the
    tree has that many); a group of under ``MIN_SPEAKER_SHARE`` of them then joins the large
    group most like it, and the other windows the group whose centroid is most similar. With
    no clear window, all windows are clustered.
    """
    n = len(embeddings)
    labels = np.zeros(n, dtype=np.int64)
    if n == 0:
        return labels
    x = unit_rows(embeddings)
    founders = np.flatnonzero(clear) if clear.any() else np.arange(n)
    if founders.size > MAX_FOUNDERS:
        # Evenly spread over the video (windows come in time order), so every part of it is
        # represented; the rest join the nearest group as faint windows do.
        founders = founders[np.linspace(0, founders.size - 1, MAX_FOUNDERS).round().astype(int)]
    if founders.size >= 2:
        try:
            hierarchy = import_module("scipy.cluster.hierarchy")
        except ImportError as exc:
            raise MissingExtra("scipy", "speech") from exc
        tree = hierarchy.linkage(x[founders], method="average", metric="cosine")
        found = hierarchy.fcluster(tree, t=1.0 - min_similarity, criterion="distance")
        if len(set(found.tolist())) > max_speakers:
            found = hierarchy.fcluster(tree, t=max_speakers, criterion="maxclust")
        found = _absorb_small(x[founders], found)
        labels[founders] = np.asarray(found, dtype=np.int64) - 1
    groups, centroids = _centroids(x[founders], labels[founders])
    others = np.setdiff1d(np.arange(n), founders)
    if others.size:
        # Similarities of every window (n by groups), not a copy of the others' embeddings.
        nearest = np.argmax((x @ centroids.T)[others], axis=1)
        labels[others] = groups[nearest]
    return labels


def unit_rows(embeddings: NDArray[np.float32], *, in_place: bool = False) -> NDArray[np.float32]:
    """``embeddings`` scaled to unit length (a zero row stays zero): ``embeddings`` itself when
    they already are, or when ``in_place``; else a copy (an hour's windows are 3.4 MiB)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    if np.all((np.abs(norms - 1.0) <= UNIT_TOLERANCE) | (norms == 0.0)):
        return embeddings
    scale = np.maximum(norms, 1e-12)
    if in_place:
        embeddings /= scale
        return embeddings
    scaled: NDArray[np.float32] = embeddings / scale
    return scaled


def _centroids(
    x: NDArray[np.float32], labels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The groups of ``labels`` and their unit-length mean embeddings."""
    groups = np.unique(labels)
    centroids = np.stack([x[labels == g].mean(axis=0) for g in groups])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return groups, centroids


def _absorb_small(x: NDArray[np.float32], labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """``labels`` with every group of fewer than ``MIN_SPEAKER_SHARE`` of the windows merged
    into the large group whose centroid is most like its own (pyannote's minimum cluster
    size, as a share: a voice heard for a few seconds of an hour is a stray group of the
    others' windows, a cough, a laugh, not a person). Unchanged when no group is large."""
    labels = np.asarray(labels, dtype=np.int64)
    least = max(1, math.ceil(MIN_SPEAKER_SHARE * labels.size))
    groups, counts = np.unique(labels, return_counts=True)
    large = groups[counts >= least]
    if large.size == 0 or large.size == groups.size:
        return labels
    in_large = np.isin(labels, large)
    _, big = _centroids(x[in_large], labels[in_large])
    merged = labels.copy()
    for group in groups[counts < least]:
        own = x[labels == group].mean(axis=0)
        merged[labels == group] = large[int(np.argmax(big @ own))]
    return merged


def diarize(
    windows: Sequence[SpeakerWindow],
    regions: Sequence[tuple[float, float]],
    *,
    min_similarity: float,
    max_speakers: int,
) -> list[Turn]:
    """Turns (speaker stretches) over the speech regions, speakers named ``S1``, ``S2``... in
    order of appearance. Windows and regions are in video time; regions may come unsorted."""
    if not windows:
        return []
    order = sorted(range(len(windows)), key=lambda i: (windows[i].start, windows[i].end))
    ordered = [windows[i] for i in order]
    # The video's one matrix of embeddings, made unit length where it is (cluster then takes
    # it as it is, not a copy).
    raw = cluster(
        unit_rows(np.stack([w.embedding for w in ordered]), in_place=True),
        np.array([w.clarity >= CLEAR_WINDOW for w in ordered]),
        min_similarity=min_similarity,
        max_speakers=max_speakers,
    )
    names: dict[int, str] = {}
    for label in raw.tolist():
        names.setdefault(int(label), f"S{len(names) + 1}")
    centres = np.array([(w.start + w.end) / 2 for w in ordered])
    speakers = [names[int(label)] for label in raw.tolist()]
    # Each region is cut halfway between consecutive window centres; a stretch takes the
    # speaker of its window. Regions without a window take the nearest window's speaker.
    cuts = (centres[1:] + centres[:-1]) / 2
    pieces: list[Turn] = []
    for start, end in sorted(regions):
        first = int(np.searchsorted(cuts, start, side="right"))
        last = int(np.searchsorted(cuts, end, side="left"))
        edges = [start, *[float(c) for c in cuts[first:last]], end]
        for k, i in enumerate(range(first, last + 1)):
            if edges[k + 1] > edges[k]:
                pieces.append(Turn(edges[k], edges[k + 1], speakers[i]))
    turns: list[Turn] = []
    for piece in pieces:
        if turns and turns[-1].speaker == piece.speaker and piece.start - turns[-1].end < 1e-6:
            turns[-1] = Turn(turns[-1].start, piece.end, piece.speaker)
        else:
            turns.append(piece)
    return [Turn(round(t.start, 3), round(t.end, 3), t.speaker) for t in turns]


def speaker_at(
    turns: Sequence[Turn], t: float, starts: Sequence[float] | None = None
) -> str | None:
    """The speaker of the turn holding time ``t``, else of the nearest turn; None without turns.
    ``starts``: the turns' starts, when the caller asks for many times (an hour's words)."""
    if not turns:
        return None
    if starts is None:
        starts = [turn.start for turn in turns]
    i = bisect.bisect_right(starts, t) - 1
    near = [j for j in (i, i + 1) if 0 <= j < len(turns)]
    j = min(near, key=lambda k: max(turns[k].start - t, t - turns[k].end, 0.0))
    return turns[j].speaker


def label_words(segments: list[Segment], turns: Sequence[Turn]) -> list[Segment]:
    """Segments with every word's ``speaker`` (the turn at its midpoint), split where the
    speaker changes; each piece carries its ``speaker``."""
    split: list[Segment] = []
    starts = [turn.start for turn in turns]
    for seg in segments:
        groups: list[tuple[str, list[Word]]] = []
        for word in seg.words:
            name = speaker_at(turns, word.midpoint, starts) or "S1"
            word.speaker = name
            if groups and groups[-1][0] == name:
                groups[-1][1].append(word)
            else:
                groups.append((name, [word]))
        for g, (name, words) in enumerate(groups):
            split.append(
                seg.model_copy(
                    update={
                        "start": seg.start if g == 0 else words[0].start,
                        "end": seg.end if g == len(groups) - 1 else words[-1].end,
                        "text": "".join(w.word for w in words).strip()
                        if len(groups) > 1
                        else seg.text,
                        "speaker": name,
                        "words": words,
                    }
                )
            )
    return split


def mark_overlaps(
    segments: list[Segment], overlaps: Sequence[tuple[float, float]]
) -> list[Segment]:
    """Segments whose words say ``overlap``: whether their midpoint lies where two people
    speak at once (``overlaps``: sorted, disjoint (start, end) in video time)."""
    starts = [start for start, _ in overlaps]
    for seg in segments:
        for word in seg.words:
            t = word.midpoint
            i = bisect.bisect_right(starts, t) - 1
            word.overlap = i >= 0 and t < overlaps[i][1]
    return segments


def talk_seconds(turns: Sequence[Turn]) -> dict[str, float]:
    talk: dict[str, float] = {}
    for turn in turns:
        talk[turn.speaker] = talk.get(turn.speaker, 0.0) + turn.end - turn.start
    return talk

"""Whisper recognition of one audio chunk: its speech found once and encoded once.

faster-whisper's ``transcribe(vad_filter=True)`` runs Silero on the audio itself and encodes
the first 30 s window afresh after ``detect_language`` encoded the same window. On a chunk of
dense speech the analyzer so paid three Silero passes (its speaker path, the language
detection, ``transcribe``) and three encoder passes (the language, the window, and a second
window for the speech past 30 s once VAD padding is added): encoding was 14.3 s of 27.4 s over
two minutes of real meetings (AMI), the decoder 5.2 s. Here:

- the caller's one Silero pass gives the speech chunks (``activity.speech_chunks``, the same
  chunks ``get_speech_timestamps`` finds);
- the speech is joined once (``language.speech_only``, as ``collect_chunks`` joins it) and its
  features computed once;
- the first window is encoded once for both the language scores and the decoding
  (``WhisperModel.generate_segments`` takes that encoder output for its first window);
- times go back to the chunk as ``transcribe`` maps them (``restore_speech_timestamps``).

Audio chunks of at most 29 s (``VA_AUDIO_CHUNK_MAX_S``) hold at most one window of speech.
A decode that ends inside a sentence still goes on from its last word's end in a window of its
own (Whisper's seek); that window holds the seconds left, and is encoded short when they
are few (``_ShortTails``). The decoding options are those ``transcribe`` would use for the
same arguments; faster-whisper is pinned (1.2.1), since ``generate_segments`` and
``TranscriptionOptions`` are its internals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import dropwhile, takewhile
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .language import speech_only
from .voice import SAMPLE_RATE

#: Mel frames in one Whisper window (30 s at 10 ms).
WINDOW_FRAMES = 3000
#: The windows a part of the speech is scored in (10 and 20 s; ``short_window``): a few
#: sizes, since CTranslate2 keeps buffers for each input shape it has seen.
SHORT_WINDOWS = (1000, 2000)
#: Seconds between two of Whisper's timestamp tokens, and the last one.
TIME_PRECISION_S = 0.02
LAST_TIMESTAMP = 1500
#: Speech left after the last transcribed segment that is decoded again (seconds of joined
#: speech). Voice detection pads speech by 0.4 s on each side and word ends are estimates, so
#: less is no sign of words missed.
MISSED_TAIL_S = 2.0


@dataclass
class Speech:
    """A chunk's speech: Silero's chunks (samples of the chunk), the speech joined, its
    features, and the first window's encoder output once computed."""

    chunks: list[dict[str, int]]
    samples: NDArray[np.float32]
    features: NDArray[np.float32]
    encoded: Any = field(default=None, repr=False)

    @property
    def seconds(self) -> float:
        return self.samples.size / SAMPLE_RATE


class Recognizer:
    """Whisper on one chunk's speech, with a loaded faster-whisper ``WhisperModel``."""

    def __init__(self, model: Any) -> None:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import (
            TranscriptionOptions,
            WhisperModel,
            get_suppressed_tokens,
            restore_speech_timestamps,
        )

        self._model = model
        # Called on ``_ShortTails``, a view of the model, not on the model itself.
        self._generate_segments = WhisperModel.generate_segments
        self._pad_or_trim = pad_or_trim
        self._options = TranscriptionOptions
        self._suppressed = get_suppressed_tokens
        self._restore = restore_speech_timestamps

    def speech(self, x: NDArray[np.float32], chunks: list[dict[str, int]]) -> Speech:
        """``x``'s speech in ``chunks`` (from ``activity.speech_chunks``), joined."""
        if not chunks:
            empty = np.zeros(0, dtype=np.float32)
            return Speech(chunks, empty, np.zeros((80, 0), dtype=np.float32))
        samples = speech_only(x, chunks).astype(np.float32, copy=False)
        return Speech(chunks, samples, self._model.feature_extractor(samples))

    def language_scores(
        self, speech: Speech, samples: NDArray[np.float32], *, short: bool = False
    ) -> dict[str, float]:
        """Whisper's probability of each language for ``samples`` (at most 30 s): the whole
        speech reuses the encoding its decoding will use; a part of it is encoded alone, in a
        window as long as Whisper's 30 s, or with ``short`` as long as ``short_window`` says
        (a pass a fifth to a seventh of the cost, for checks that weigh listed languages)."""
        if samples is speech.samples:
            encoded = self._first_window(speech)
        else:
            features = self._model.feature_extractor(samples)
            content = features.shape[-1] - 1
            frames = short_window(content) if short else WINDOW_FRAMES
            encoded = self._model.encode(self._pad_or_trim(features[:, :content], frames))
        ranked = self._model.model.detect_language(encoded)[0]
        # Language tokens are "<|en|>".
        return {str(token)[2:-2]: float(p) for token, p in ranked}

    def transcribe(
        self,
        speech: Speech,
        language: str,
        *,
        beam_size: int,
        prompt: str | None,
    ) -> list[Any]:
        """faster-whisper segments (with words) of the speech, in seconds of the chunk.

        Temperature 0 only, each segment on its own (no text carried over: one hallucination
        would seed the next); what ``transcribe`` would do with ``temperature=0.0,
        condition_on_previous_text=False, word_timestamps=True``.
        """
        if not speech.chunks:
            return []
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        options = self._options(
            beam_size=beam_size,
            best_of=5,
            patience=1,
            length_penalty=1,
            repetition_penalty=1,
            no_repeat_ngram_size=0,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            compression_ratio_threshold=2.4,
            condition_on_previous_text=False,
            prompt_reset_on_temperature=0.5,
            temperatures=[0.0],
            initial_prompt=prompt,
            prefix=None,
            suppress_blank=True,
            suppress_tokens=self._suppressed(tokenizer, [-1]),
            without_timestamps=False,
            max_initial_timestamp=1.0,
            word_timestamps=True,
            prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、",
            multilingual=False,
            max_new_tokens=None,
            clip_timestamps="0",
            hallucination_silence_threshold=None,
            hotwords=None,
        )
        windows = _ShortTails(model)
        segments = list(
            self._generate_segments(
                windows, speech.features, tokenizer, options, False, speech.encoded
            )
        )
        heard_to = max((s.end for s in segments), default=0.0)
        content_s = (speech.features.shape[-1] - 1) * model.feature_extractor.time_per_frame
        if content_s - heard_to >= MISSED_TAIL_S:
            # Whisper ended its window early, with a single timestamp, so its seek jumped past
            # speech it never transcribed. Once on two minutes of real meetings (AMI): a
            # 28-word sentence lost.
            options.clip_timestamps = [heard_to, content_s]
            segments += [
                s
                for s in self._generate_segments(
                    windows, speech.features, tokenizer, options, False
                )
                if s.start >= heard_to
            ]
        return list(self._restore(iter(segments), speech.chunks, SAMPLE_RATE))

    def read_from(
        self,
        speech: Speech,
        at_s: float,
        language: str,
        *,
        prompt: str | None,
        max_tokens: int = 3,
    ) -> tuple[str, float]:
        """What Whisper reads from ``at_s`` (seconds of the chunk) on: at most ``max_tokens``
        of text, up to the next timestamp, and their probability (the geometric mean of the
        tokens'). The decoder starts at that time's timestamp token, after ``prompt``, on the
        encoding the chunk's decode made: one short decoder pass, no encoder pass."""
        if not speech.chunks:
            return "", 0.0
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        position = round(joined_seconds(speech.chunks, at_s) / TIME_PRECISION_S)
        tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())] if prompt else []
        tokens += [
            *tokenizer.sot_sequence,
            tokenizer.timestamp_begin + min(position, LAST_TIMESTAMP),
        ]
        result = model.model.generate(
            self._first_window(speech),
            [tokens],
            beam_size=1,
            max_length=len(tokens) + max_tokens,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed(tokenizer, [-1]),
        )[0]
        # The result begins with the timestamp it was started at; its text ends at the next.
        first_time = tokenizer.timestamp_begin
        after = dropwhile(lambda t: t >= first_time, result.sequences_ids[0])
        text = list(takewhile(lambda t: t < first_time, after))
        return tokenizer.decode(text), math.exp(result.scores[0])

    def _first_window(self, speech: Speech) -> Any:
        """The encoder output of the speech's first window, exactly as ``generate_segments``
        cuts it (its content frames are the features' frames but the last)."""
        if speech.encoded is None:
            content = speech.features.shape[-1] - 1
            window = speech.features[:, : min(WINDOW_FRAMES, content)]
            speech.encoded = self._model.encode(self._pad_or_trim(window))
        return speech.encoded


class _ShortTails:
    """The model, encoding the windows ``generate_segments`` cuts past the first in a short
    window (``short_window``) instead of 30 s.

    With word timestamps, a window whose decode ends inside a sentence is followed by one
    that starts at its last word's end: on a chunk of dense speech that tail is a few seconds
    (0.4-12 s measured), and it cost a whole 30 s encoder pass (two of the three chunks of a
    minute of the interview benchmark). ``generate_segments`` pads each window with zeros to
    30 s; the content is what precedes them. The first window does not come here: it is
    encoded once for the language and given to ``generate_segments``.
    """

    def __init__(self, model: Any) -> None:
        self._model = model

    def encode(self, window: NDArray[np.float32]) -> Any:
        filled = np.flatnonzero(np.any(window != 0, axis=0))
        content = int(filled[-1]) + 1 if filled.size else 0
        return self._model.encode(window[:, : short_window(content)])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def short_window(content_frames: int) -> int:
    """Mel frames a part of ``content_frames`` is padded to for a short pass (a part's
    language scores, a decode's tail window): the first of ``SHORT_WINDOWS`` at least twice
    its length, else Whisper's whole window.

    Whisper was trained on 30 s windows, its speech followed by padding; CTranslate2 encodes a
    shorter one, at a cost that grows with it. Unpadded, the en/ko shares drifted (a 12 s AMI
    cut: en 0.52 against 0.91 in the 30 s window; a 3 s Korean cut: ko 0.74 against 0.99);
    padded to a 10 s window (content up to 5 s) or a 20 s one (up to 10 s) they stayed within
    0.02 of the 30 s window's on real cuts of 3-12 s (AMI, GRID, ../shared/data/korean), while
    a pass took about 80 ms in the 10 s window and 210-260 ms in the 20 s one, against
    560-640 ms. The share of the best of all languages moves more (GRID's lwbsza: English
    0.82 -> 0.55 of all), so a check that finds a language outside the listed ones first
    scores again in the full window (``SpeechAnalyzer._part_scores``).
    """
    for frames in SHORT_WINDOWS:
        if frames >= 2 * content_frames:
            return frames
    return WINDOW_FRAMES


def joined_seconds(chunks: Sequence[Mapping[str, int]], at_s: float) -> float:
    """Where ``at_s`` (seconds of the chunk) lies in its speech joined (``speech_only`` of
    ``chunks``, samples of the chunk): a time between chunks is the next chunk's start."""
    at = at_s * SAMPLE_RATE
    before = 0
    for chunk in chunks:
        start, end = int(chunk["start"]), int(chunk["end"])
        if at < end:
            return (before + max(0.0, at - start)) / SAMPLE_RATE
        before += end - start
    return before / SAMPLE_RATE

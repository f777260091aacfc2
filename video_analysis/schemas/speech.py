"""The ``speech`` section of the result: transcript with words, turns, overlaps and speakers,
and the candidate's fluency and voice figures, over the video and per question.

Contract v1 key paths are kept (see DESIGN.md); every model allows extra fields, so figures
added later do not break older readers. Times are seconds from the start of the video. A
figure that could not be measured is null; its key is there all the same.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)
from pydantic.dataclasses import dataclass

from .reasons import Reason
from .rows import RESULT_ROW
from .section import Section

#: How a speaker's response delay was measured.
ResponseDelayBasis = Literal[
    "median_after_other_speakers", "from_video_start", "from_question_start"
]


class SpeechModel(BaseModel):
    """The base of the speech section's models: extra fields are kept, for newer writers."""

    model_config = ConfigDict(extra="allow")


# --- transcript -------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True, config=RESULT_ROW)
class Word:
    """One recognised word, with who said it and what the camera saw at its midpoint."""

    start: float = Field(description="Start of the word, seconds.")
    end: float = Field(description="End of the word, seconds.")
    word: str = Field(description="As Whisper writes it: leading space, punctuation attached.")
    probability: float = Field(ge=0, le=1, description="Whisper's probability of the word.")
    speaker: str | None = Field(default=None, description="Speaker label (S1, S2...), when known.")
    language: str | None = Field(
        default=None, description="The language it was transcribed in (its segment's), e.g. 'ko'."
    )
    overlap: bool = Field(default=False, description="Said while two people spoke at once.")
    filler: bool = Field(
        default=False,
        description="A filler: a hesitation sound (um, uh, 음, 어) or a word used as one ('like,', "
        "'you know', 뭐); the fillers figures count these.",
    )
    expression: str | None = Field(
        default=None,
        description="Apparent facial expression in the sampled frame nearest the word.",
    )
    eye_contact: bool | None = Field(
        default=None, description="Looking at the camera in that frame."
    )
    head_yaw: float | None = Field(default=None, description="Head yaw in that frame, degrees.")

    @property
    def midpoint(self) -> float:
        """Where the word counts when it is placed in time: in a second of the timeline, a
        question, a speaker's turn, an overlap."""
        return (self.start + self.end) / 2


class Segment(SpeechModel):
    """A stretch of transcript of one speaker (segments are split where the speaker changes)."""

    start: float = Field(description="Start of the segment, seconds.")
    end: float = Field(description="End of the segment, seconds.")
    text: str = Field(description="The segment's text.")
    speaker: str | None = Field(None, description="Speaker label of all its words, when known.")
    language: str | None = Field(
        None,
        description="The language it was transcribed in: each passage of a chunk is heard and "
        "transcribed in its own language, never translated (null from older workers).",
    )
    words: list[Word] = Field(default_factory=list, description="Its words in time order.")
    avg_logprob: float | None = Field(
        None, description="Whisper's mean token log-probability over the whole decoded segment."
    )
    no_speech_prob: float | None = Field(
        None, description="Whisper's probability that the decoded segment holds no speech."
    )
    compression_ratio: float | None = Field(
        None, description="gzip compression ratio of the decoded text: high is a repetition loop."
    )
    #: Whether its words say which are fillers: a result made before words were marked
    #: (2026-12-06) has no ``filler`` key, and its reader finds them in the text instead.
    _fillers_marked: bool = PrivateAttr(default=True)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_marks(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        segment = handler(data)
        if isinstance(data, dict):
            words = data.get("words") or []
            segment._fillers_marked = not words or any(
                not isinstance(w, dict) or "filler" in w for w in words
            )
        return segment

    @property
    def fillers_marked(self) -> bool:
        """Its words carry ``filler`` (every result since words were marked)."""
        return self._fillers_marked


class LanguageShare(SpeechModel):
    """One language of the video and its share of the transcribed speech."""

    language: str = Field(description="Language code, e.g. 'ko'.")
    speech_s: float = Field(ge=0, description="Seconds of transcribed segments in it.")
    share: float = Field(ge=0, le=1, description="Its share of the transcribed segments' time.")


class HallucinationsDropped(SpeechModel):
    """Segments left out of the transcript as invented by the recogniser."""

    count: int = Field(ge=0, description="Segments dropped.")
    by_reason: dict[str, int] = Field(
        description="Segments dropped by reason: repetition, silence, low_probability, "
        "no_words, after_speech (every word decoded after the speech ended)."
    )
    words_after_speech: int = Field(
        0,
        ge=0,
        description="Words cut from the end of a chunk's transcript: decoded after its last "
        "speech (Whisper goes on past the end of the audio), with no speech heard under them.",
    )


class Turn(SpeechModel):
    """A stretch of speech of one speaker."""

    start: float = Field(description="Start of the turn, seconds.")
    end: float = Field(description="End of the turn, seconds.")
    speaker: str = Field(description="Speaker label (S1, S2...).")


class OverlapRegion(SpeechModel):
    """A stretch where two people speak at once."""

    start: float = Field(description="Start, seconds.")
    end: float = Field(description="End, seconds.")


class Overlaps(SpeechModel):
    """Where two people speak at once: marked, not split between them."""

    count: int = Field(0, ge=0, description="Stretches where two people speak at once.")
    total_s: float = Field(0.0, ge=0, description="Their total length, seconds.")
    regions: list[OverlapRegion] = Field(default_factory=list, description="The stretches.")
    method: str | None = Field(None, description="How overlapping speech is found.")
    cannot_assess: str | None = Field(
        None, description="Null, or why overlapping speech could not be looked for."
    )
    cannot_assess_reason: Reason | None = Field(
        None, description="The same reason by its stable code and values."
    )


# --- one speaker's figures --------------------------------------------------------------------


class WordsPerMinute(SpeechModel):
    """Speaking rate, over speaking time and over the audio."""

    speaking: float = Field(
        ge=0, description="Words per minute of speaking time (runs of words, pauses left out)."
    )
    overall: float | None = Field(
        None, ge=0, description="Words per minute of the audio received (or of the span)."
    )
    words: int = Field(ge=0, description="Words counted.")
    speaking_s: float = Field(ge=0, description="Speaking time, seconds.")
    syllables_per_minute: float | None = Field(
        None,
        ge=0,
        description="Korean only: Hangul syllables per minute of the speaking time spent in "
        "Korean (an eojeol carries its particles, so syllables are the usual Korean rate; "
        "in an answer that mixes languages, over its Korean words' share of the time); null "
        "without Korean words.",
    )


class Pauses(SpeechModel):
    """Silent gaps between a speaker's consecutive words (a gap while another speaks is not
    a pause of theirs)."""

    count: int = Field(ge=0, description="Pauses of at least min_pause_s.")
    mean_s: float = Field(ge=0, description="Their mean length, seconds (0 without pauses).")
    longest_s: float = Field(ge=0, description="The longest, seconds (0 without pauses).")
    total_s: float = Field(ge=0, description="Their total length, seconds.")
    long_count: int = Field(ge=0, description="Pauses of 2 s or more.")
    per_min: float = Field(
        ge=0, description="Pauses per minute, from the first to the last word of each run."
    )
    min_pause_s: float = Field(
        gt=0, description="Shortest gap counted as a pause (VA_SPEECH_MIN_PAUSE_S)."
    )


class FillerCounts(SpeechModel):
    """One kind of filler words: how many, how often and which."""

    count: int = Field(ge=0, description="Fillers counted.")
    per_min: float = Field(ge=0, description="Per minute of speaking time.")
    by_word: dict[str, int] = Field(description="Count of each filler, most frequent first.")


class Fillers(SpeechModel):
    """Filler words: all of them, and hesitation sounds and filler words apart. Counts are
    null where the language has no filler list."""

    count: int | None = Field(None, ge=0, description="Fillers of either kind; null: not counted.")
    per_min: float | None = Field(None, ge=0, description="Per minute of speaking time.")
    by_word: dict[str, int] = Field(
        default_factory=dict, description="Count of each filler, most frequent first."
    )
    filled_pauses: FillerCounts | None = Field(
        None, description="Hesitation sounds: um, uh, er, 음, 어."
    )
    lexical: FillerCounts | None = Field(
        None, description="Ordinary words used as fillers: 'like,', 'you know', 그, 뭐, 이제."
    )
    method: str = Field(
        description="whisper_filler_prompt (every spoken chunk was transcribed with a prompt "
        "that keeps fillers), transcript (counted on the plain transcript, where Whisper "
        "tends to leave fillers out) or unsupported_language."
    )


class Pitch(SpeechModel):
    """Pitch over the frames under the speaker's words."""

    median_hz: float = Field(gt=0, description="Median pitch, Hz.")
    mean_hz: float = Field(gt=0, description="Mean pitch, Hz.")
    spread_semitones: float = Field(
        ge=0, description="Standard deviation of pitch around its median, semitones."
    )
    range_hz: tuple[float, float] = Field(description="5th and 95th percentile of pitch, Hz.")
    range_semitones: float = Field(ge=0, description="That range in semitones.")
    frames: int = Field(ge=0, description="Voiced 20 ms frames measured.")
    coverage: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of the 20 ms frames under the speaker's words that are voiced "
        "and so carry a pitch (unvoiced sounds and silences between words have none).",
    )
    method: str = Field(description="How pitch is measured.")


class VoiceMeasures(SpeechModel):
    """Jitter, shimmer and harmonics-to-noise ratio of the speaker's voiced speech, as Praat's
    voice report measures them. They describe the recording of a voice (the microphone, the
    room and the compression of webcam audio all change them), not health or ability, and are
    not compared with any clinical norm."""

    jitter_local_percent: float | None = Field(
        None,
        ge=0,
        description="Jitter (local): how much consecutive glottal periods differ in length, "
        "as the mean absolute difference over the mean period, percent; null under 400 "
        "measured periods (cannot_assess says so).",
    )
    shimmer_local_percent: float | None = Field(
        None,
        ge=0,
        description="Shimmer (local): how much the loudness of consecutive periods differs, "
        "as the mean absolute difference of their peak amplitudes over the mean amplitude, "
        "percent; null under 400 measured periods.",
    )
    hnr_db: float | None = Field(
        None,
        description="Harmonics-to-noise ratio: how much of the voiced sound is periodic "
        "(tone) rather than noise (breath, hoarseness, background), mean over the voiced "
        "frames, dB; null under 100 voiced frames (2 s of voicing).",
    )
    periods: int = Field(0, ge=0, description="Glottal periods jitter and shimmer come from.")
    stretches: int = Field(
        0, ge=0, description="Voiced stretches (runs of pulses without a voice break) measured."
    )
    voiced_s: float = Field(0.0, ge=0, description="Seconds of those stretches.")
    coverage: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of the speaker's speech time (under their words) that jitter and "
        "shimmer were measured over.",
    )
    hnr_frames: int = Field(
        0, ge=0, description="Voiced 20 ms frames the harmonics-to-noise ratio averages."
    )
    hnr_coverage: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of the 20 ms frames under the speaker's words that it averages.",
    )
    cannot_assess: str | None = Field(
        None, description="Null, or why a figure is null (too little voiced speech measured)."
    )
    method: str = Field(description="How the figures are measured and pooled.")


class Energy(SpeechModel):
    """Level over the frames under the speaker's words (20 ms RMS)."""

    mean_dbfs: float = Field(description="Mean power, dBFS.")
    median_dbfs: float = Field(description="Median frame level, dBFS.")
    std_db: float = Field(ge=0, description="Standard deviation of frame level, dB.")
    dynamic_range_db: float = Field(ge=0, description="10th to 90th percentile of frame level, dB.")
    frames: int = Field(ge=0, description="Frames measured.")


class ResponseDelay(SpeechModel):
    """A time the speaker took over from another speaker."""

    after: str = Field(description="The speaker before them.")
    at: float = Field(description="Start of their first word, seconds.")
    delay_s: float = Field(
        description="From the other's last word to their first; negative when they started "
        "before it ended."
    )


class VoiceFigures(SpeechModel):
    """Rate, pauses, fillers, pitch and energy of some words."""

    words_per_minute: WordsPerMinute = Field(description="Speaking rate.")
    pauses: Pauses = Field(description="Pauses between the words.")
    fillers: Fillers = Field(description="Filler words.")
    pitch: Pitch | None = Field(None, description="Pitch; null under 10 voiced frames.")
    energy: Energy | None = Field(None, description="Level; null under 10 frames.")
    voice: VoiceMeasures | None = Field(
        None,
        description="Jitter, shimmer and harmonics-to-noise ratio (Praat's voice report), "
        "with their coverage.",
    )


class SpeakerFigures(VoiceFigures):
    """One speaker's fluency and voice figures, and how they take the floor."""

    first_word_s: float = Field(description="Start of their first word, seconds.")
    response_delays: list[ResponseDelay] = Field(
        default_factory=list, description="Each time they took over from another speaker."
    )
    response_delay_s: float = Field(
        description="The median of response_delays; without any, the time from the start "
        "(of the video, or of the question) to their first word."
    )
    response_delay_basis: ResponseDelayBasis = Field(description="Which of the two it is.")
    confidence: float = Field(
        ge=0, le=1, description="Mean recognition probability of their words."
    )


# --- the speakers -----------------------------------------------------------------------------


class Speakers(SpeechModel):
    """Who speaks how much, and who the candidate is."""

    count: int = Field(0, ge=0, description="Speakers found.")
    talk_ratio: dict[str, float] = Field(
        default_factory=dict, description="Each speaker's share of talk time."
    )
    talk_s: dict[str, float] = Field(
        default_factory=dict, description="Each speaker's talk time, seconds."
    )
    candidate: str | None = Field(None, description="The candidate's speaker label.")
    candidate_source: str | None = Field(
        None, description="The rule that chose the candidate: metadata or most_talk."
    )
    cannot_assess: str | None = Field(
        None, description="Null, or why speakers could not be told apart."
    )
    cannot_assess_reason: Reason | None = Field(
        None, description="The same reason by its stable code and values."
    )
    method: str | None = Field(None, description="How speakers are told apart.")
    per_speaker: dict[str, SpeakerFigures | None] = Field(
        default_factory=dict,
        description="Every speaker's own fluency and voice figures; null for a speaker "
        "with no recognised word.",
    )


class FiguresFor(SpeechModel):
    """Whose figures the section's fluency and voice fields are."""

    speaker: str | None = Field(
        description="The candidate's label; null when the figures are everyone's."
    )
    rule: str = Field(
        description="Why: the rule that chose the candidate (metadata, most_talk), or "
        "'everyone: the candidate said no word'."
    )


class VoiceQuality(SpeechModel):
    """How well the recording carries the voice."""

    snr_db: float | None = Field(
        None, description="Signal to noise ratio, dB; null without speech or without silence."
    )
    clipping_ratio: float = Field(ge=0, le=1, description="Share of samples at full scale.")
    voiced_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of speech frames with a pitch."
    )
    snr_method: str = Field(description="How snr_db is measured.")
    not_measured: str = Field(
        description="Voice figures left out, and why (jitter, shimmer and harmonics-to-noise "
        "ratio are measured per speaker, in `voice`)."
    )


class PitchBaseline(SpeechModel):
    """The candidate's median pitch over their first seconds and over the rest."""

    window: tuple[float, float] = Field(
        description="The baseline seconds: from the candidate's first word, VA_BASELINE_S long."
    )
    median_hz: float | None = Field(
        None, description="Median pitch in the baseline seconds, Hz; null under 10 voiced frames."
    )
    rest_median_hz: float | None = Field(
        None, description="Median pitch over the rest of the video, Hz."
    )
    change_semitones: float | None = Field(None, description="Rest against baseline, semitones.")


class QuestionSpeech(SpeechModel):
    """The candidate's speech figures over one question's part of the video."""

    question_id: str = Field(description="The platform's id of the question.")
    start: float = Field(description="Start of the question's span, seconds.")
    end: float = Field(description="End of the question's span, seconds.")
    speaker: str | None = Field(None, description="The candidate's speaker label.")
    figures: SpeakerFigures | None = Field(
        None,
        description="The candidate's figures over their words whose midpoint lies in the "
        "span (rate over the span's length, response delay from the span's start when no "
        "one spoke before them in it); null when they said no word there.",
    )


# --- the section ------------------------------------------------------------------------------


class SpeechSection(Section):
    """Transcript, speakers and the candidate's fluency and voice figures."""

    language: str | None = Field(None, description="The language spoken longest, e.g. 'en'.")
    languages: list[LanguageShare] = Field(
        default_factory=list,
        description="Every language the transcript is in, most spoken first, with its share "
        "of the transcribed time (a Korean answer with English passages: ko 0.8, en 0.2).",
    )
    language_source: str | None = Field(
        None,
        description="metadata, setting, detected, default or interview (the language of the "
        "interview's earlier answers): the rule that chose.",
    )
    transcript: str | None = Field(None, description="The whole transcript, every speaker.")
    segments: list[Segment] = Field(
        default_factory=list, description="The transcript in time order, split by speaker."
    )
    turns: list[Turn] = Field(default_factory=list, description="Who speaks when.")
    overlaps: Overlaps | None = Field(None, description="Where two people speak at once.")
    speakers: Speakers | None = Field(None, description="Who speaks how much; the candidate.")
    figures_for: FiguresFor | None = Field(
        None, description="Whose figures the fluency and voice fields are, and why."
    )
    words_per_minute: WordsPerMinute | None = Field(None, description="Speaking rate.")
    pauses: Pauses | None = Field(None, description="Pauses between words.")
    response_delay_s: float | None = Field(
        None, description="The candidate's response delay (see response_delay_basis)."
    )
    fillers: Fillers | None = Field(None, description="Filler words.")
    pitch: Pitch | None = Field(None, description="Pitch under the words.")
    energy: Energy | None = Field(None, description="Level under the words.")
    voice: VoiceMeasures | None = Field(
        None,
        description="Jitter, shimmer and harmonics-to-noise ratio of the voice under the "
        "words (Praat's voice report), with their coverage.",
    )
    voice_quality: VoiceQuality | None = Field(
        None, description="Signal to noise, clipping and voiced share over all speech."
    )
    pitch_baseline: PitchBaseline | None = Field(
        None,
        description="The candidate's median pitch over their first VA_BASELINE_S seconds "
        "and over the rest, and the change in semitones.",
    )
    hallucinations_dropped: HallucinationsDropped | None = Field(
        None, description="Segments left out as invented by the recogniser."
    )
    audio_s: float | None = Field(None, ge=0, description="Seconds of audio received.")
    response_delay_basis: ResponseDelayBasis | None = Field(
        None, description="How response_delay_s was measured."
    )
    response_delays: list[ResponseDelay] | None = Field(
        None, description="Each time the candidate took over from another speaker."
    )
    everyone: VoiceFigures | None = Field(
        None,
        description="Rate, pauses, fillers, pitch, energy and voice measures over every "
        "speaker's words.",
    )
    questions: list[QuestionSpeech] = Field(
        default_factory=list,
        description="The candidate's figures per question, when the upload's metadata gives "
        "question spans; empty otherwise.",
    )

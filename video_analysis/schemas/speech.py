"""The ``speech`` section of the result: transcript with words, turns, overlaps and speakers.

Contract v1 key paths are kept (see DESIGN.md); every model allows extra fields, so figures
added later do not break older readers. Times are seconds from the start of the video.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .section import Section


class Word(BaseModel):
    """One recognised word, with who said it and what the camera saw at its midpoint."""

    model_config = ConfigDict(extra="allow")

    start: float
    end: float
    word: str = Field(description="As Whisper writes it: leading space, punctuation attached.")
    probability: float = Field(ge=0, le=1)
    speaker: str | None = Field(None, description="Speaker label (S1, S2...), when known.")
    overlap: bool = Field(False, description="Said while two people spoke at once.")
    expression: str | None = Field(
        None, description="Apparent facial expression in the sampled frame nearest the word."
    )
    eye_contact: bool | None = Field(None, description="Looking at the camera in that frame.")
    head_yaw: float | None = Field(None, description="Head yaw in that frame, degrees.")


class Segment(BaseModel):
    """A stretch of transcript of one speaker (segments are split where the speaker changes)."""

    model_config = ConfigDict(extra="allow")

    start: float
    end: float
    text: str
    speaker: str | None = None
    words: list[Word] = Field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None


class Turn(BaseModel):
    """A stretch of speech of one speaker."""

    start: float
    end: float
    speaker: str


class OverlapRegion(BaseModel):
    start: float
    end: float


class Overlaps(BaseModel):
    """Where two people speak at once: marked, not split between them."""

    model_config = ConfigDict(extra="allow")

    count: int = 0
    total_s: float = 0.0
    regions: list[OverlapRegion] = Field(default_factory=list)
    method: str | None = None
    cannot_assess: str | None = None


class Speakers(BaseModel):
    """Who speaks how much, and who the candidate is."""

    model_config = ConfigDict(extra="allow")

    count: int = 0
    talk_ratio: dict[str, float] = Field(default_factory=dict)
    talk_s: dict[str, float] = Field(default_factory=dict)
    candidate: str | None = None
    candidate_source: str | None = Field(
        None, description="The rule that chose the candidate: metadata or most_talk."
    )
    cannot_assess: str | None = None
    method: str | None = None
    per_speaker: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict, description="Every speaker's own fluency and voice figures."
    )


class SpeechSection(Section):
    """Transcript, speakers and the candidate's fluency and voice figures."""

    language: str | None = None
    language_source: str | None = Field(
        None, description="metadata, setting, detected or default: the rule that chose."
    )
    transcript: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    overlaps: Overlaps | None = None
    speakers: Speakers | None = None
    figures_for: dict[str, Any] | None = Field(
        None, description="Whose figures the fluency and voice fields are, and why."
    )
    words_per_minute: dict[str, Any] | None = None
    pauses: dict[str, Any] | None = None
    response_delay_s: float | None = None
    fillers: dict[str, Any] | None = None
    pitch: dict[str, Any] | None = None
    energy: dict[str, Any] | None = None
    voice_quality: dict[str, Any] | None = None
    pitch_baseline: dict[str, Any] | None = Field(
        None,
        description="The candidate's median pitch over their first VA_BASELINE_S seconds "
        "and over the rest, and the change in semitones.",
    )

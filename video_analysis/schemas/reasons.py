"""Why a figure could not be judged, as a stable code and its values.

Every ``cannot_assess`` and every reliability note of a result has a code from ``REASONS``
beside its English words, so that a reader in another language (the report in Korean) words
it from the code, and a platform can act on it without reading prose. The English template of
each code is also its message id in the report's translation catalogue.

A value is a number, a word from this catalogue (a section, what was looked for), a detail
passed on as it came (an error code, a model's message), or another reason (``cause``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


def N_(text: str) -> str:  # noqa: N802 - gettext's name for a message marked, not translated
    """``text`` unchanged: marks it for the translation catalogue."""
    return text


#: Each code and its English template (``str.format`` fields: the reason's values).
REASONS: dict[str, str] = {
    "analysis_failed": N_("analysis failed: {error}"),
    "result_failed": N_("{message}"),
    "not_enabled": N_("no analyzer for {section} is enabled in this deployment"),
    "no_part_arrived": N_("no part of it arrived"),
    "parts_missing": N_("some of its parts did not arrive or failed"),
    "parts_failed": N_("{count} part(s) failed and are left out: {parts}"),
    "partly_judged": N_("judged on {share:.0%} of the video"),
    "truncated": N_(
        "the file ends at {analysed_s:.1f} s of a declared {duration_s:.1f} s (probably cut "
        "off): only that part was analysed"
    ),
    "too_few_frames": N_(
        "{what} found in {share:.0%} of sampled frames, below the {minimum:.0%} needed to "
        "judge {name}"
    ),
    "no_frame_analysed": N_("no sampled frame was analysed"),
    "face_too_rare": N_(
        "a face was visible in {share:.0%} of the sampled frames; at least {minimum:.0%} is "
        "needed to describe the expression"
    ),
    "blinks_fps": N_("frames sampled at {fps:g} fps; blinks need at least {minimum:g} fps"),
    "no_eye": N_("no eye could be measured"),
    "no_head_pose": N_("no head pose could be measured"),
    "no_shoulders": N_("no shoulders could be measured"),
    "no_hands_checked": N_("no frame was checked for hands"),
    "no_gaze": N_("no gaze could be measured"),
    "no_landmarks": N_("no face's landmarks were measured"),
    "pose_not_enabled": N_("the pose role, which places the face's landmarks, is not enabled"),
    "no_audio_track": N_("no audio track"),
    "no_audio_received": N_("no audio received"),
    "no_speech": N_("no speech detected"),
    "no_words": N_("no words recognised"),
    "speaker_model_missing": N_("{detail}"),
    "no_speech_to_structure": N_("no speech to structure ({cause})"),
}

#: The words a reason's values may be (and the sections a note names), so that they are in
#: the catalogue too.
WORDS = (
    N_("media"),
    N_("speech"),
    N_("speech.speakers"),
    N_("speech.overlaps"),
    N_("face"),
    N_("head_pose"),
    N_("structure"),
    N_("result"),
    N_("a face"),
    N_("shoulders"),
    N_("frames"),
    N_("the face's landmarks"),
    N_("blinks"),
    N_("head pose"),
    N_("posture"),
    N_("gestures"),
    N_("gaze"),
    N_("facial action units"),
)


class Reason(BaseModel):
    """A reason by its stable code, with the values its words need."""

    code: str = Field(description="Stable code: " + ", ".join(sorted(REASONS)) + ".")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Its values: numbers (shares 0..1, seconds), words, details, or another "
        "reason as {code, params} under 'cause'.",
    )

    @property
    def english(self) -> str:
        """The reason in English words (the result's ``cannot_assess`` and ``reason``)."""
        return words(self, lambda text: text)


def reason(code: str, /, **params: Any) -> Reason:
    """The reason ``code`` with its values; a code not in ``REASONS`` is a bug."""
    if code not in REASONS:
        raise KeyError(f"no reason code {code!r}")
    return Reason(
        code=code,
        params={k: v.model_dump() if isinstance(v, Reason) else v for k, v in params.items()},
    )


def words(reason: Reason, translate: Any) -> str:
    """``reason`` worded through ``translate`` (a gettext): its template and its word values
    translated, a cause worded the same way, numbers as the template formats them."""
    template = translate(REASONS.get(reason.code, "{detail}"))
    values: dict[str, Any] = {}
    for key, value in reason.params.items():
        if isinstance(value, dict) and "code" in value:
            values[key] = words(Reason.model_validate(value), translate)
        elif isinstance(value, str) and value in WORDS:
            values[key] = translate(value)
        else:
            values[key] = value
    try:
        return str(template.format(**values))
    except (KeyError, ValueError, IndexError, TypeError):
        return reason.code  # written by a newer version, with values this one does not know

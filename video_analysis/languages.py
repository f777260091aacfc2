"""The spoken languages Whisper knows: the only codes an upload or a setting may name.

Kept here as data (not imported from faster-whisper) so that the API and the event models can
check a code without loading the speech stack; a test keeps it equal to faster-whisper's list.
"""

from __future__ import annotations

WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn",
    "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si",
    "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
_KNOWN = frozenset(WHISPER_LANGUAGES)


def language_code(value: str) -> str:
    """``value`` as a known code (trimmed, lower case); ``ValueError`` naming the codes if not."""
    code = value.strip().lower()
    if code not in _KNOWN:
        raise ValueError(
            f"unknown language {value!r}; use a two- or three-letter code Whisper knows, e.g. "
            "'en', 'ko', 'ja' (all: " + ", ".join(WHISPER_LANGUAGES) + ")"
        )
    return code

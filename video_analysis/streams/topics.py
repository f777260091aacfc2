"""Topic names. Kept free of Faust so the API, CLI and tests can import them cheaply."""

from __future__ import annotations

from ..settings import Settings

VIDEO_UPLOADED = "video-uploaded"
VIDEO_FRAMES = "video-frames"
VIDEO_AUDIO = "video-audio"
VIDEO_MANIFESTS = "video-manifests"
ANALYZER_RESULTS = "analyzer-results"
ANALYSIS_RESULTS = "analysis-results"
DLQ = "video-analysis-dlq"

ALL_TOPICS: tuple[str, ...] = (
    VIDEO_UPLOADED,
    VIDEO_FRAMES,
    VIDEO_AUDIO,
    VIDEO_MANIFESTS,
    ANALYZER_RESULTS,
    ANALYSIS_RESULTS,
    DLQ,
)


def topic_names(settings: Settings) -> dict[str, str]:
    """Logical name -> actual topic name (with the configured prefix)."""
    return {name: settings.topic(name) for name in ALL_TOPICS}

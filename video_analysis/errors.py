"""One exception hierarchy for everything a user can cause.

A ``VideoAnalysisError`` carries a stable machine ``code`` and a human message; it becomes a
``failed`` result, a DLQ record, a 4xx answer or a non-zero CLI exit. Anything else is a bug and
is not caught to be hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from .schemas import ErrorInfo, MediaInfo


class VideoAnalysisError(Exception):
    """Base class: ``code`` is stable and documented, ``message`` is for people."""

    code = "analysis_error"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class MediaError(VideoAnalysisError):
    """The file cannot be analysed as a video. ``media`` is what the probe saw, when it could
    read that much (a failed result then still describes the file)."""

    code = "unreadable_media"
    media: MediaInfo | None = None


class UnreadableMedia(MediaError):
    code = "unreadable_media"


class NoVideoStream(MediaError):
    code = "no_video_stream"


class TooLong(MediaError):
    code = "too_long"


class FrameTooLarge(MediaError):
    code = "frame_too_large"


class UnsupportedMediaType(MediaError):
    code = "unsupported_media_type"
    http_status = 415


class UploadTooLarge(VideoAnalysisError):
    code = "upload_too_large"
    http_status = 413


class SourceNotAllowed(VideoAnalysisError):
    """The event points outside the configured upload root."""

    code = "source_not_allowed"


class SourceNotFound(VideoAnalysisError):
    code = "source_not_found"


class SourceUnavailable(VideoAnalysisError):
    """The store or server holding the video did not answer; the upload itself may be fine."""

    code = "source_unavailable"
    http_status = 503


class Unauthorized(VideoAnalysisError):
    """No API key, or one the service does not know."""

    code = "unauthorized"
    http_status = 401


class Forbidden(VideoAnalysisError):
    """An API key without the scope the route needs."""

    code = "forbidden"
    http_status = 403


class InvalidMetadata(VideoAnalysisError):
    """An upload's metadata is not a JSON object, or does not fit ``VideoMetadata``."""

    code = "invalid_metadata"


class InvalidEvent(VideoAnalysisError):
    """A message on a topic does not match its schema."""

    code = "invalid_event"


class UnknownVideo(VideoAnalysisError):
    code = "unknown_video"
    http_status = 404


class NotReprocessable(VideoAnalysisError):
    """A video that cannot be analysed again now: still in flight, deleted, or its upload
    is gone (``code`` says which)."""

    code = "not_reprocessable"
    http_status = 409


class BrokerUnavailable(VideoAnalysisError):
    """The message broker did not take an event: nothing was started, retry later."""

    code = "broker_unavailable"
    http_status = 503


class ResultUnavailable(VideoAnalysisError):
    """A claim check's full result cannot be read (gone, or not the bytes its hash names)."""

    code = "result_unavailable"
    http_status = 503


class MediaLinkRefused(VideoAnalysisError):
    """A link to a video (the report's player) whose signature does not match what this
    service signed, or whose time is up (``media_link_expired``)."""

    code = "invalid_media_link"
    http_status = 403


class UploadGone(VideoAnalysisError):
    """The video is no longer kept by this service (retention, deletion: ``code`` says)."""

    code = "upload_gone"
    http_status = 410


class RangeNotSatisfiable(VideoAnalysisError):
    """A Range header that asks only for bytes past the end of the file."""

    code = "range_not_satisfiable"
    http_status = 416


class ModelNotAvailable(VideoAnalysisError):
    """Weights for a model are not installed; the message says how to install them."""

    code = "model_not_available"
    http_status = 503


class MissingExtra(ImportError):
    """An optional library is not installed; the message names the extra to install."""

    def __init__(self, library: str, extra: str) -> None:
        super().__init__(
            f"{library} is not installed; install it with: pip install 'video-analysis[{extra}]'"
        )


def error_info(exc: BaseException) -> ErrorInfo:
    """Stable code and message for any failure; unexpected ones are ``internal_error``."""
    from .schemas import ErrorInfo

    if isinstance(exc, VideoAnalysisError):
        return ErrorInfo(code=exc.code, message=exc.message)
    if isinstance(exc, ValidationError):
        return ErrorInfo(code=InvalidEvent.code, message=_validation_message(exc))
    return ErrorInfo(code="internal_error", message=f"{type(exc).__name__}: {exc}")


def _validation_message(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    return "message does not match its schema: " + "; ".join(problems)

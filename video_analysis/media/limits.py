"""The limits a video must fit before it is split: one check for the API (at upload, so the
client hears at once) and the splitter (for events published straight to the broker)."""

from __future__ import annotations

from ..errors import FrameTooLarge, NoVideoStream, TooLong
from ..schemas import MediaInfo
from ..settings import Settings


def check_media_limits(media: MediaInfo, settings: Settings) -> None:
    """Raise ``NoVideoStream``, ``TooLong`` or ``FrameTooLarge`` (carrying ``media``)."""
    error: NoVideoStream | TooLong | FrameTooLarge | None = None
    if not media.has_video:
        error = NoVideoStream("the file has no video stream (audio-only files are not analysed)")
    elif media.duration_s > settings.max_duration_s:
        error = TooLong(
            f"the video is {media.duration_s:.0f} s long; the limit is "
            f"{settings.max_duration_s:.0f} s"
        )
    elif max(media.width or 0, media.height or 0) > settings.max_resolution_px:
        # Decoding a 16000x16000 frame takes gigabytes; refuse it before decoding anything.
        error = FrameTooLarge(
            f"the video is {media.width}x{media.height} pixels; the limit is "
            f"{settings.max_resolution_px} pixels on the longest side"
        )
    if error is not None:
        error.media = media
        raise error

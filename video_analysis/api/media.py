"""The report's player: a short-lived signed link to a video this service keeps.

``GET /videos/{id}/media?exp=<unix seconds>&sig=<signature>`` answers without an API key: a
``<video>`` element cannot send one, and the page that holds the link was served to a key with
the ``read`` scope. The signature (HMAC-SHA256 with ``VA_MEDIA_URL_SECRET``) covers the video
id and the expiry, so a link opens one video until its time is up, and an altered link opens
nothing. Byte ranges (206, 416) let the browser seek without fetching the whole file, from the
upload root on disk or, with a ranged GET, from the upload store.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from ..errors import MediaLinkRefused, RangeNotSatisfiable
from ..report import Recording
from ..settings import Settings
from ..store import ResultStore, Sources, StatusStore

log = logging.getLogger(__name__)

#: The container's media type by file extension: those the upload route accepts, and .ts, the
#: name it gives an extensionless MPEG-TS upload.
MEDIA_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
}
#: What the signature covers besides the video and the time: a key signs only media links.
SIGNED_PURPOSE = "video-analysis media v1"
#: Unix seconds until the year 33658: an expiry longer than this is not one we wrote.
MAX_EXPIRY_DIGITS = 12
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class MediaStores(Protocol):
    """What the player's link needs; ``api.deps.Components`` has all of it."""

    @property
    def status(self) -> StatusStore: ...
    @property
    def results(self) -> ResultStore: ...
    @property
    def sources(self) -> Sources: ...


@dataclass(frozen=True)
class SignedLink:
    query: str  # exp=...&sig=...
    expires_at: datetime


class MediaLinks:
    """Signs and checks the links to a video. Every replica of the API needs the same key."""

    def __init__(self, key: bytes, lifetime_s: float) -> None:
        self._key = key
        self.lifetime_s = lifetime_s

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLinks:
        secret = settings.media_url_secret
        if secret is not None:
            return cls(secret.get_secret_value().encode(), settings.media_url_ttl_s)
        if settings.environment == "production":
            raise ValueError(
                "VA_MEDIA_URL_SECRET is not set: the production API needs the key that signs "
                "the reports' links to their video, the same in every replica "
                "(openssl rand -hex 32)"
            )
        # A link signed by one process does not open in another: fine for one dev API.
        log.info("VA_MEDIA_URL_SECRET is unset: media links are signed with a per-process key")
        return cls(secrets.token_bytes(32), settings.media_url_ttl_s)

    def sign(self, video_id: str, now: float) -> SignedLink:
        expires = int(now + self.lifetime_s)
        query = urlencode({"exp": expires, "sig": self._signature(video_id, str(expires))})
        return SignedLink(query=query, expires_at=datetime.fromtimestamp(expires, UTC))

    def check(self, video_id: str, exp: str, sig: str, now: float) -> None:
        """Nothing when ``exp`` and ``sig`` are what this service signed for ``video_id`` and
        ``exp`` has not passed; ``MediaLinkRefused`` otherwise."""
        wellformed = exp.isascii() and exp.isdigit() and len(exp) <= MAX_EXPIRY_DIGITS
        expected = self._signature(video_id, exp).encode()
        # Compared in constant time, and even for a malformed expiry, so that the answer's
        # timing says nothing about how much of a forged signature was right.
        if not hmac.compare_digest(expected, sig.encode()) or not wellformed:
            raise MediaLinkRefused("this link to the video is not one the service made")
        if int(exp) < now:
            raise MediaLinkRefused(
                "this link to the video has expired: reload the report for a new one",
                code="media_link_expired",
            )

    def _signature(self, video_id: str, exp: str) -> str:
        message = f"{SIGNED_PURPOSE}\n{video_id}\n{exp}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) that one ``Range: bytes=`` asks of ``size`` bytes;
    None for the whole file: no header, several ranges or a unit other than bytes (RFC 9110
    §14.2 lets a server answer those with all of it). ``RangeNotSatisfiable`` when it asks
    only for bytes past the end."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None  # invalid: ignored, as RFC 9110 says
    elif last:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            raise RangeNotSatisfiable(f"the range asks for no bytes of {size}")
    else:
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"the range starts past the end of the video ({size} bytes)")
    return start, end


async def recording(stores: MediaStores, links: MediaLinks, video_id: str) -> Recording | None:
    """The player's source for ``video_id``'s report: a signed link relative to the report's
    path (``/videos/{id}/report``), so it works behind any prefix; None when this service no
    longer keeps the video (or its store does not answer: the report still renders)."""
    try:
        kept = await asyncio.to_thread(stores.sources.kept_upload, video_id)
    except Exception as exc:  # noqa: BLE001 - a report without its player beats none
        log.warning("video %s: cannot tell whether its upload is kept: %s", video_id, exc)
        return None
    if kept is None:
        return None
    link = links.sign(video_id, time.time())
    return Recording(src=f"media?{link.query}", expires_at=link.expires_at)

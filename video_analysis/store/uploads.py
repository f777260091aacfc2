"""Uploaded files on disk, and the one check that a URI from an event may be read.

Files live under ``root/<video_id>/<sanitized filename>``. Only paths whose real location (after
symlinks and ``..``) is inside ``root`` may be analysed: an event cannot make a worker read
``/etc/passwd``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from ..errors import SourceNotAllowed, SourceNotFound, UploadTooLarge, VideoAnalysisError
from ..schemas.events import valid_video_id

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME_CHARS = 120


def sanitize_filename(filename: str | None) -> str:
    """A safe base name: no folders, no leading dots, only ``[A-Za-z0-9._-]``."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).lstrip("._-")
    if not name:
        return "upload"
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = f"{stem[: MAX_FILENAME_CHARS - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


class UploadStorage:
    def __init__(self, root: Path) -> None:
        # Absolute, so the paths it hands out mean the same in every process.
        self.root = Path(root).expanduser().resolve()

    async def save_stream(
        self, video_id: str, filename: str, chunks: AsyncIterator[bytes], max_bytes: int
    ) -> Path:
        """Write ``chunks`` to ``root/video_id/<filename>`` via a temp file and return the path.

        Raises ``UploadTooLarge`` (and leaves nothing behind) once more than ``max_bytes``
        arrive; any other failure also removes the partial file.
        """
        if not valid_video_id(video_id):
            raise VideoAnalysisError(f"invalid video_id {video_id!r}", code="invalid_video_id")
        folder = self.root / video_id
        target = folder / sanitize_filename(filename)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.part"
        handle: BinaryIO = await asyncio.to_thread(tmp.open, "wb")
        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, tmp, target)
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            _rmdir_if_empty(folder)
            log.info("discarded partial upload for video %s after %s bytes", video_id, written)
            raise
        log.info("stored upload for video %s: %s (%s bytes)", video_id, target, written)
        return target

    def discard(self, path: Path) -> None:
        """Delete a stored upload (a rejected one) and its folder when that is left empty."""
        path = Path(path)
        if not path.resolve().is_relative_to(self.root):
            raise SourceNotAllowed(f"{path} is outside the upload root")
        path.unlink(missing_ok=True)
        if path.parent.resolve() != self.root:
            _rmdir_if_empty(path.parent)

    def resolve(self, uri: str) -> Path:
        """The real path of ``uri`` (plain path or ``file://`` URI) if it is a file under root.

        A relative path is taken relative to the upload root.
        """
        raw = uri.strip()
        if raw.startswith("file:"):
            parts = urlsplit(raw)
            if parts.netloc not in ("", "localhost"):
                raise SourceNotAllowed(f"file URI on another host is not allowed: {uri!r}")
            raw = unquote(parts.path)
        elif "://" in raw:
            raise SourceNotAllowed(f"only local paths and file:// URIs are allowed: {uri!r}")
        if not raw or "\x00" in raw:
            raise SourceNotAllowed(f"not a usable path: {uri!r}")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            real = candidate.resolve()
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise SourceNotFound(f"cannot resolve {uri!r}: {exc}") from exc
        if not real.is_relative_to(self.root):
            raise SourceNotAllowed(f"{uri!r} is outside the upload root")
        if not real.is_file():
            raise SourceNotFound(f"no such file: {uri!r}")
        return real


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass

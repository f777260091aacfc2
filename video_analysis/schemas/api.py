"""The API's own bodies: what the routes answer besides the result and the status.

Every error answer has one shape, ``{"error": {"code", "message"}}`` (``ErrorBody``); the code
is stable and the message says what to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .result import PartialSegment, VideoState


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: e.g. unknown_video, too_long.")
    message: str = Field(description="What went wrong and what to do, for a person.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class ServiceInfo(BaseModel):
    service: Literal["video-analysis"] = "video-analysis"
    version: str
    docs: str = Field(description="Where the interactive docs are (when they are enabled).")


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    error: str | None = Field(None, description="Why the dependency did not answer.")


class Readiness(BaseModel):
    """``GET /health/ready`` when every dependency answers."""

    status: Literal["ready"] = "ready"
    checks: dict[str, Check] = Field(description="broker, results, status, uploads (when S3).")


class NotReady(ErrorBody):
    """``GET /health/ready`` when a dependency does not answer (503)."""

    status: Literal["not_ready"] = "not_ready"
    checks: dict[str, Check]


class TranscriptUpdate(BaseModel):
    """The data of a ``transcript`` event on ``GET /videos/{id}/events``."""

    segments: list[PartialSegment] = Field(description="New segments, in time order.")
    replace: bool = Field(
        description="The segments are the whole transcript so far (a chunk came out of order)."
    )


class UploadAccepted(BaseModel):
    video_id: str
    status: VideoState
    status_url: str
    result_url: str


class ModelStatus(BaseModel):
    """One line of ``/models/status`` and ``video-analysis models status``."""

    name: str
    analyzer: str
    kind: str
    present: bool = Field(description="Weights are installed (or the model needs none).")
    path: str | None = Field(None, description="Installed directory; null for built-ins.")
    source: str = Field(description='Where the weights came from, e.g. "package a==1 + ...".')
    version: str | None = None
    sha256: str | None = Field(None, description="Checksum of the main weights file.")
    verified: bool = Field(
        False, description="Files match the manifest (sizes; full hashes when verified)."
    )
    installed_at: datetime | None = None
    loaded: bool = Field(
        False, description="Loaded by an analyzer in this process or in a worker that reported it."
    )
    load_time_s: float | None = None
    device: str | None = None
    workers: list[str] = Field(
        default_factory=list, description="Workers (role@host:pid) that hold it in memory."
    )
    error: str | None = Field(None, description="Why the model is not available.")


class ModelsStatus(BaseModel):
    """``GET /models/status``: paths, workers and error details only for admin keys."""

    models: list[ModelStatus]

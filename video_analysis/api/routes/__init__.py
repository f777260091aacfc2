"""The API's routes, one router per subject; ``api/main.py`` includes them all."""

from __future__ import annotations

from . import health, media, metrics, models, uploads, videos

ROUTERS = (
    health.router,
    models.router,
    uploads.router,
    videos.router,
    media.router,
    metrics.router,
)

__all__ = ["ROUTERS"]

"""The FastAPI sidecar: ``create_app()`` builds it; ``uvicorn --factory`` can serve it."""

from __future__ import annotations

from .app import Publisher, UploadAccepted, create_app

__all__ = ["Publisher", "UploadAccepted", "create_app"]

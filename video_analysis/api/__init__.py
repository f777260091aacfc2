"""The FastAPI sidecar: ``create_app()`` builds it; ``uvicorn --factory`` can serve it."""

from __future__ import annotations

from ..schemas.api import UploadAccepted
from .deps import Publisher
from .main import create_app

__all__ = ["Publisher", "UploadAccepted", "create_app"]

"""Model bundle: where weights come from, checksums, installing, loading records, status."""

from __future__ import annotations

from ..schemas.api import ModelStatus
from .bundle import (
    MODEL_SPECS,
    Build,
    ModelSpec,
    OutputFile,
    SourceFile,
    SourcePackage,
    SourceWheel,
    clear_loaded,
    install,
    model_info,
    model_path,
    record_loaded,
    status,
)

__all__ = [
    "MODEL_SPECS",
    "Build",
    "ModelSpec",
    "ModelStatus",
    "OutputFile",
    "SourceFile",
    "SourcePackage",
    "SourceWheel",
    "clear_loaded",
    "install",
    "model_info",
    "model_path",
    "record_loaded",
    "status",
]

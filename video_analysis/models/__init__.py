"""The models: which weights each analyzer uses and where they come from (``catalogue``),
installing them (``installer``), what is installed and where (``installed``), and which this
process has loaded (``loaded``). The ONNX graphs built at install time share ``onnx_graph``."""

from __future__ import annotations

from ..schemas.api import ModelStatus
from .catalogue import (
    MODEL_SPECS,
    Build,
    ModelSpec,
    OutputFile,
    SourceFile,
    SourcePackage,
    SourceWheel,
    file_sha256,
)
from .installed import model_info, model_path, status
from .installer import install
from .loaded import clear_loaded, loaded_here, record_loaded, with_worker_loads

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
    "file_sha256",
    "install",
    "loaded_here",
    "model_info",
    "model_path",
    "record_loaded",
    "status",
    "with_worker_loads",
]

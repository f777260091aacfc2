"""How every model of the service is run: one onnxruntime session builder, and one rule for
the GPU (``VA_DEVICE``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelNotAvailable

CPU = ("CPUExecutionProvider",)


def onnx_session(
    onnxruntime: Any, model_file: Path, *, threads: int = 1, providers: Sequence[str] = CPU
) -> Any:
    """An onnxruntime session on ``model_file`` with ``threads`` intra-op threads and one
    inter-op thread. Idle intra-op threads do not spin: spinning after each run took cores from
    the worker's other analyses (measured with 2 threads, batch 4, on this 2-core machine while
    busy: 37 ms per second of audio spinning, 24 ms without; idle, spinning saved ~3 ms).

    ``onnxruntime`` is the imported module: each caller imports it and says in its own words
    what to install when it is missing. onnxruntime's own errors for a bad graph pass through.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model_file), options, providers=list(providers))


def pick_device(setting: str, gpu_present: bool, runtime: str) -> str:
    """``cuda`` or ``cpu`` for the ``device`` setting (``VA_DEVICE``): auto takes the GPU when
    ``runtime`` sees one. ModelNotAvailable when ``cuda`` is asked for and ``runtime`` has none
    (a GPU deployment must not fall back silently to runs many times slower)."""
    if setting == "cuda" and not gpu_present:
        raise ModelNotAvailable(f"VA_DEVICE=cuda, but {runtime} sees no CUDA device")
    return "cuda" if setting != "cpu" and gpu_present else "cpu"

"""Which models this process has loaded (analyzers call :func:`record_loaded`), and the
workers' reports of theirs for ``/models/status`` (the API loads no model itself)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ..schemas import ModelLoad
from ..schemas.api import ModelStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _LoadRecord:
    load_time_s: float
    device: str


_loaded: dict[str, _LoadRecord] = {}


_loaded_lock = threading.Lock()


def record_loaded(name: str, *, load_time_s: float, device: str) -> None:
    """Called by an analyzer once its ``load()`` succeeded, so status can report it."""
    with _loaded_lock:
        _loaded[name] = _LoadRecord(load_time_s=load_time_s, device=device)
    logger.info("model %s loaded in %.2f s on %s", name, load_time_s, device)


def loaded_here() -> dict[str, tuple[float, str]]:
    """What this process has loaded: name -> (load time in seconds, device)."""
    with _loaded_lock:
        return {name: (r.load_time_s, r.device) for name, r in _loaded.items()}


def with_worker_loads(statuses: list[ModelStatus], loads: list[ModelLoad]) -> list[ModelStatus]:
    """``statuses`` with what the workers reported they hold (the API loads no model itself)."""
    out = []
    for item in statuses:
        mine = sorted((load for load in loads if load.name == item.name), key=lambda x: x.worker)
        if not mine:
            out.append(item)
            continue
        first = mine[0]
        out.append(
            item.model_copy(
                update={
                    "loaded": True,
                    "load_time_s": item.load_time_s if item.loaded else first.load_time_s,
                    "device": item.device if item.loaded else first.device,
                    "workers": [load.worker for load in mine],
                }
            )
        )
    return out


def clear_loaded() -> None:
    """Forget every load record (tests)."""
    with _loaded_lock:
        _loaded.clear()


def load_record(name: str) -> _LoadRecord | None:
    with _loaded_lock:
        return _loaded.get(name)

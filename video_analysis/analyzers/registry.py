"""Which analyzer class serves which name. Agents and the pipeline look analyzers up here."""

from __future__ import annotations

import threading
from importlib import import_module

from ..schemas import PartSource
from ..settings import Settings
from .base import Analyzer

#: name -> "module:Class"; modules are imported on first use so heavy libraries stay unloaded.
ANALYZERS: dict[str, str] = {
    "quality": "video_analysis.analyzers.quality:QualityAnalyzer",
    "face": "video_analysis.analyzers.face:FaceAnalyzer",
    "pose": "video_analysis.analyzers.pose:PoseAnalyzer",
    "speech": "video_analysis.analyzers.speech:SpeechAnalyzer",
}

#: Per analyzer, the loaded instance and the settings it was built with.
_loaded: dict[str, tuple[Settings, Analyzer]] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def analyzer_class(name: str) -> type[Analyzer]:
    try:
        target = ANALYZERS[name]
    except KeyError:
        known = ", ".join(sorted(ANALYZERS))
        raise ValueError(f"unknown analyzer {name!r}; known: {known}") from None
    module_name, class_name = target.split(":")
    cls: type[Analyzer] = getattr(import_module(module_name), class_name)
    return cls


def get_analyzer(name: str, settings: Settings) -> Analyzer:
    """The process-wide loaded instance for ``settings``: weights are read once per process,
    never per call. Other settings (a test, a second ``analyze_file``) replace it.

    One lock per analyzer, so a slow load (TensorFlow) does not hold up the others.
    """
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    with lock:
        loaded = _loaded.get(name)
        if loaded is not None and (loaded[0] is settings or loaded[0] == settings):
            return loaded[1]
        analyzer = analyzer_class(name)(settings)
        analyzer.load()
        _loaded[name] = (settings, analyzer)
        return analyzer


def validate_plan(frame_analyzers: list[str], audio_analyzers: list[str]) -> None:
    """Fail at start-up, not mid-video, when settings name an analyzer that cannot run."""
    for names, source in (
        (frame_analyzers, PartSource.FRAMES),
        (audio_analyzers, PartSource.AUDIO),
    ):
        for name in names:
            if source not in analyzer_class(name).sources:
                raise ValueError(f"analyzer {name!r} does not analyse {source.value}")

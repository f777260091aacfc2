"""Building the consolidated result from a manifest and the parts received (the join's logic).

Pure: the Faust join agent and the in-process ``analyze`` command both call ``build_result``,
so a result is the same whichever way the video travelled.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from . import structure, timeline
from .analyzers import action_units
from .analyzers.base import SummaryInput
from .analyzers.frame_columns import FaceColumns, PoseColumns
from .analyzers.registry import analyzer_class
from .schemas import (
    ActionUnits,
    AnalysisResult,
    ErrorInfo,
    FaceSection,
    ModelInfo,
    PartialResult,
    PartSource,
    ReliabilityNote,
    ResultStatus,
    Section,
    SplitManifest,
    StructureSection,
)
from .schemas.parts import FaceFrame, FacePart, PartData, PoseFrame, PosePart
from .schemas.reasons import Reason, reason
from .settings import Settings

log = logging.getLogger(__name__)

#: Sections no enabled analyzer fills yet say so instead of showing numbers.
SECTION_NAMES = ("face", "gaze", "head_pose", "blinks", "posture", "gestures", "speech")
#: The analyzers whose frame rows the timeline (and each word's camera figures) is built from.
TIMELINE_ANALYZERS = ("face", "pose")


def failed_result(
    video_id: str, error: ErrorInfo, manifest: SplitManifest | None = None
) -> AnalysisResult:
    result = AnalysisResult(video_id=video_id, status=ResultStatus.FAILED, error=error)
    if manifest is not None:
        result.metadata = manifest.metadata
        result.run = manifest.run
        _fill_media(result, manifest)
    failed = reason("analysis_failed", error=error.code)
    for name in SECTION_NAMES:
        setattr(result, name, _section_type(name).not_assessed(failed))
    result.structure = StructureSection.not_assessed(failed)
    result.media.cannot(failed)
    result.media.confidence = 0.0
    result.reliability = [
        ReliabilityNote.of(
            "result", reason("result_failed", message=error.message, error=error.code)
        )
    ]
    return result


@runtime_checkable
class PartsByAnalyzer(Protocol):
    """A video's parts, read one analyzer's at a time (the join reads them from its table)."""

    def analyzers(self) -> Collection[str]:
        """The analyzers with a part in."""
        ...

    def of(self, analyzer: str) -> Iterable[PartialResult]:
        """``analyzer``'s parts, each read when it is asked for."""
        ...


@dataclass(frozen=True)
class Grouped:
    """Parts given in one sequence (the in-process ``analyze``), grouped by analyzer."""

    groups: dict[str, list[PartialResult]]

    @classmethod
    def of_parts(cls, parts: Iterable[PartialResult]) -> Grouped:
        groups: dict[str, list[PartialResult]] = defaultdict(list)
        for part in parts:
            groups[part.analyzer].append(part)
        return cls(dict(groups))

    def analyzers(self) -> Collection[str]:
        return self.groups.keys()

    def of(self, analyzer: str) -> Iterable[PartialResult]:
        return self.groups.get(analyzer, [])


def build_result(
    manifest: SplitManifest,
    parts: Iterable[PartialResult] | PartsByAnalyzer,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> AnalysisResult:
    """The result for one video from whatever parts arrived (of a part delivered twice, the
    last counts).

    The parts are read one analyzer at a time, and each analyzer's data is let go once it is
    summarised; only the face and pose frame rows, which the timeline and the action units
    read, are kept to the end, as columns (``frame_columns``), and they are read last. So a
    caller that yields parts one by one (the join, from its table) holds one analyzer's data
    at a time, not the video's."""
    if manifest.error is not None:
        return failed_result(manifest.video_id, manifest.error, manifest)
    now = now or datetime.now(UTC)
    source = parts if isinstance(parts, PartsByAnalyzer) else Grouped.of_parts(parts)
    expected = manifest.expected_parts()
    result = AnalysisResult(
        video_id=manifest.video_id,
        status=ResultStatus.COMPLETE,
        metadata=manifest.metadata,
        run=manifest.run,
    )
    _fill_media(result, manifest)
    seen = _Summaries()
    planned = _plan_names(manifest)
    received: dict[str, _Arrived] = {}
    for name in _reading_order(planned, source.analyzers()):
        own, data = _read_parts(source.of(name))
        received.update(own)
        if name in planned:
            _summarize(result, name, _Received(manifest, settings, own, data, expected), seen)
    missing_parts = sorted(expected - received.keys())
    failed_parts = sorted(key for key, part in received.items() if part.error is not None)
    filled, missing_sections = seen.filled, seen.missing_sections
    _join_action_units(result, manifest, source, seen, settings)
    _join_timeline(result, manifest, seen)
    result.structure = structure.build(
        result.speech,
        result.timeline,
        manifest.metadata.questions,
        settings.baseline_s,
        min_pause=settings.speech_min_pause_s,
    )
    coverage = _media_coverage(manifest, received)
    result.media.coverage = coverage
    for name in SECTION_NAMES:
        if name not in filled:
            setattr(result, name, _section_type(name).not_assessed(_not_enabled_reason(name)))

    result.models = sorted(seen.models.values(), key=lambda m: (m.analyzer, m.name))
    result.missing = sorted(missing_sections)
    if missing_parts or failed_parts:
        result.status = ResultStatus.PARTIAL
        extra: dict[str, Any] = {
            "missing_parts": missing_parts,
            "failed_parts": {k: received[k].error.model_dump() for k in failed_parts},  # type: ignore[union-attr]
        }
        result.__pydantic_extra__ = {**(result.__pydantic_extra__ or {}), **extra}
    timings = {"split": round(manifest.split_s, 3)}
    timings.update({f"analyze.{k}": round(v, 3) for k, v in sorted(seen.analyzer_seconds.items())})
    if manifest.submitted_at is not None:
        timings["total"] = round((now - manifest.submitted_at).total_seconds(), 3)
    result.timings = timings
    result.reliability = reliability(result, missing_sections, failed_parts)
    return result


@dataclass
class _Received:
    """What arrived for one video, as ``build_result`` reads it."""

    manifest: SplitManifest
    settings: Settings
    parts: dict[str, _Arrived]
    data: dict[str, PartData]
    expected: set[str]


@dataclass
class _Summaries:
    """What the analyzers' summaries have filled in so far."""

    filled: set[str] = field(default_factory=set)
    missing_sections: set[str] = field(default_factory=set)
    models: dict[tuple[str, str], ModelInfo] = field(default_factory=dict)
    analyzer_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    #: The face and pose rows, once their analyzer is summarised (None: no such analyzer).
    face: FaceColumns | None = None
    pose: PoseColumns | None = None


def _summarize(result: AnalysisResult, name: str, got: _Received, seen: _Summaries) -> None:
    """Analyzer ``name``'s sections of ``result`` from its parts that arrived whole; a
    section none of whose parts arrived says so."""
    cls = analyzer_class(name)
    own = [p for p in got.parts.values() if p.analyzer == name]
    for part in own:
        for model in part.models:
            seen.models[(model.analyzer, model.name)] = model
        seen.analyzer_seconds[name] += part.elapsed_s
    good = _whole(own)
    summary_input: SummaryInput[PartData, PartData] = SummaryInput(
        manifest=got.manifest,
        settings=got.settings,
        frames=[got.data[p.part_key] for p in good if p.source == PartSource.FRAMES],
        audio=[got.data[p.part_key] for p in good if p.source == PartSource.AUDIO],
    )
    if name == "face":
        seen.face = FaceColumns.of(row for p in summary_input.frames for row in _face_rows(p))
    elif name == "pose":
        seen.pose = PoseColumns.of(row for p in summary_input.frames for row in _pose_rows(p))
    expected_own = {k for k in got.expected if k.startswith(f"{name}:")}
    if expected_own - {p.part_key for p in good}:
        seen.missing_sections.update(cls.sections)
    if not good and expected_own:
        for section in cls.sections:
            if "." not in section:
                setattr(
                    result, section, _section_type(section).not_assessed(reason("no_part_arrived"))
                )
                seen.filled.add(section)
        return
    for path, summary in cls.summarize(summary_input).items():
        _apply(result, path, summary)
        seen.filled.add(path.split(".", 1)[0])
    for part in good:  # summarised: only the timeline's rows are read again
        got.data.pop(part.part_key, None)


def reliability(
    result: AnalysisResult, missing_sections: set[str], failed_parts: list[str]
) -> list[ReliabilityNote]:
    """What the result could not judge, section by section, in plain words."""
    notes: list[ReliabilityNote] = []
    sections: list[tuple[str, Section]] = [
        ("media", result.media),
        *((name, getattr(result, name)) for name in SECTION_NAMES),
        ("structure", result.structure),
    ]
    for name, section in sections:
        if section.cannot_assess:
            notes.append(_note(name, section.cannot_assess, section.cannot_assess_reason))
        elif round(section.coverage, 2) < 1.0 and name != "media":
            # Under 99.5%: a chunk's rounding (0.998 of the audio) is the whole video.
            notes.append(ReliabilityNote.of(name, reason("partly_judged", share=section.coverage)))
    media = result.media
    if media.truncated and media.analysed_s is not None:
        notes.append(
            ReliabilityNote.of(
                "media",
                reason("truncated", analysed_s=media.analysed_s, duration_s=media.duration_s),
            )
        )
    speech = result.speech
    for part, figures in (("speakers", speech.speakers), ("overlaps", speech.overlaps)):
        if figures is not None and figures.cannot_assess and not speech.cannot_assess:
            notes.append(
                _note(f"speech.{part}", figures.cannot_assess, figures.cannot_assess_reason)
            )
    for section_name in sorted(missing_sections):
        notes.append(ReliabilityNote.of(section_name, reason("parts_missing")))
    if failed_parts:
        notes.append(
            ReliabilityNote.of(
                "result",
                reason("parts_failed", count=len(failed_parts), parts=", ".join(failed_parts)),
            )
        )
    return notes


def _note(section: str, text: str, why: Reason | None) -> ReliabilityNote:
    """A section's own reason as a note (by code where the section has one)."""
    return (
        ReliabilityNote.of(section, why) if why else ReliabilityNote(section=section, reason=text)
    )


def _join_action_units(
    result: AnalysisResult,
    manifest: SplitManifest,
    source: PartsByAnalyzer,
    seen: _Summaries,
    settings: Settings,
) -> None:
    """``face.action_units`` from the pose role's face landmarks, measured against the
    person's neutral (the frames the face role reads as neutral); and, unless the setting says
    otherwise, the face role's disgust that the expression model misses, with the face's
    expression summarised again from its parts, read again with the changed frames (the
    timeline reads them too)."""
    if seen.face is None:
        return  # no face section to hold them
    if seen.pose is None:
        result.face.action_units = ActionUnits.not_assessed(reason("pose_not_enabled"))
        return
    expected = max(int(manifest.frames_sampled or 0), len(seen.pose))
    units, moved = action_units.summarize(
        seen.pose, seen.face, expected, settings.face_min_coverage
    )
    changed = action_units.read_disgust(seen.face, moved) if settings.face_action_unit_rule else {}
    if changed and result.face.cannot_assess is None:
        seen.face = seen.face.with_scores(changed)
        frames: list[PartData] = [
            p.model_copy(
                update={
                    "frames": [
                        replace(r, scores=changed[r.index]) if r.index in changed else r
                        for r in p.frames
                    ]
                }
            )
            for p in _good_frames(source, "face")
            if isinstance(p, FacePart)
        ]
        summary_input: SummaryInput[PartData, PartData] = SummaryInput(
            manifest=manifest, settings=settings, frames=frames
        )
        face = analyzer_class("face").summarize(summary_input)["face"]
        assert isinstance(face, FaceSection)
        if face.expression is not None:
            face.expression.action_unit_frames = {"disgust": len(changed)}
        result.face = face
    result.face.action_units = units


def _join_timeline(result: AnalysisResult, manifest: SplitManifest, seen: _Summaries) -> None:
    """The per-second timeline, and what the camera saw at each word of the transcript."""
    face = seen.face or FaceColumns.of([])
    pose = seen.pose or PoseColumns.of([])
    segments = result.speech.segments
    timeline.annotate_words(segments, face, pose, manifest.sample_fps)
    result.timeline = timeline.build(float(manifest.media.duration_s or 0.0), face, pose, segments)


def _face_rows(data: PartData) -> list[FaceFrame]:
    return data.frames if isinstance(data, FacePart) else []


def _pose_rows(data: PartData) -> list[PoseFrame]:
    return data.frames if isinstance(data, PosePart) else []


def _good_frames(source: PartsByAnalyzer, name: str) -> list[PartData]:
    """Analyzer ``name``'s frame parts that arrived whole, read again from ``source`` in the
    order ``_summarize`` reads them."""
    own, data = _read_parts(source.of(name))
    return [data[p.part_key] for p in _whole(own.values()) if p.source == PartSource.FRAMES]


def _whole(parts: Iterable[_Arrived]) -> list[_Arrived]:
    """The parts that arrived whole, in the order their analyzer reads them."""
    return sorted((p for p in parts if p.error is None), key=_order)


def _order(part: _Arrived) -> tuple[str, int]:
    return (part.source.value, part.index)


def _plan_names(manifest: SplitManifest) -> list[str]:
    return list(dict.fromkeys([*manifest.analyzers.frames, *manifest.analyzers.audio]))


def _reading_order(planned: list[str], arrived: Collection[str]) -> list[str]:
    """Every analyzer planned or with a part in; those whose rows the timeline reads last, so
    that the others' data is let go before theirs is read."""
    names = list(dict.fromkeys([*planned, *sorted(arrived)]))
    return sorted(names, key=lambda name: name in TIMELINE_ANALYZERS)


def _fill_media(result: AnalysisResult, manifest: SplitManifest) -> None:
    media = manifest.media
    result.media.duration_s = media.duration_s
    result.media.width = media.width
    result.media.height = media.height
    result.media.fps = media.fps
    result.media.has_video = media.has_video
    result.media.has_audio = media.has_audio
    result.media.container = media.container
    result.media.video_codec = media.video_codec
    result.media.audio_codec = media.audio_codec
    result.media.frames_sampled = manifest.frames_sampled
    result.media.sample_fps = manifest.sample_fps
    result.media.rotation = media.rotation
    result.media.analysed_s = manifest.analysed_s
    result.media.truncated = manifest.truncated


def _media_coverage(manifest: SplitManifest, received: dict[str, _Arrived]) -> float:
    """Share of the expected quality parts that arrived without error."""
    expected = {k for k in manifest.expected_parts() if k.startswith("quality:")}
    if not expected:
        return 1.0 if manifest.error is None else 0.0
    ok = sum(1 for k in expected if k in received and received[k].error is None)
    return round(ok / len(expected), 4)


@dataclass(frozen=True, slots=True)
class _Arrived:
    """What the build keeps of a part once its data is read: a copy of the part without its
    data took 2.4 KB (its model infos, its fields-set), 2.6 MiB for an hour's parts."""

    part_key: str
    analyzer: str
    source: PartSource
    index: int
    models: list[ModelInfo]  # the models that made it, each shared with the parts' equal ones
    elapsed_s: float
    error: ErrorInfo | None

    @classmethod
    def of(cls, part: PartialResult, models: dict[tuple[Any, ...], ModelInfo]) -> _Arrived:
        """``part`` without its data; ``models``: the model infos read so far, by value (an
        hour's 2,520 parts name a handful of models)."""

        def shared(model: ModelInfo) -> ModelInfo:
            return models.setdefault(tuple(model.__dict__.values()), model)

        return cls(
            part_key=part.part_key,
            analyzer=part.analyzer,
            source=part.source,
            index=part.index,
            models=[shared(model) for model in part.models or [part.model]],
            elapsed_s=part.elapsed_s,
            error=part.error,
        )


def _read_parts(
    parts: Iterable[PartialResult],
) -> tuple[dict[str, _Arrived], dict[str, PartData]]:
    """Each part by key (the last of duplicates), without its raw data, and each good part's
    data read into its analyzer's model, part by part: the raw JSON of a part is let go before
    the next is read (an hour's raw parts took as much memory as the models read from them).

    A part whose data does not fit (an analyzer of another version, a corrupted message)
    becomes a failed part: it is reported, and the rest of the video is still summarised."""
    received: dict[str, _Arrived] = {}
    data: dict[str, PartData] = {}
    models: dict[tuple[Any, ...], ModelInfo] = {}
    for part in parts:
        key = part.part_key
        data.pop(key, None)
        received[key] = _Arrived.of(part, models)
        if part.error is not None:
            continue
        try:
            model = analyzer_class(part.analyzer).part_data(part.source)
            data[key] = model.model_validate(part.data)
        except (ValidationError, ValueError) as exc:
            log.warning(
                "video_id=%s part %s has data that does not fit: %s", part.video_id, key, exc
            )
            received[key] = replace(
                received[key],
                error=ErrorInfo(
                    code="invalid_part_data",
                    message=f"the {part.analyzer} part's data does not fit its model: "
                    + str(exc).splitlines()[0],
                ),
            )
    return received, data


def _apply(result: AnalysisResult, path: str, section: BaseModel) -> None:
    """Put a summarised section at its dotted ``path`` (``"face"``, ``"media.quality"``)."""
    *parents, leaf = path.split(".")
    owner: BaseModel = result
    for name in parents:
        owner = getattr(owner, name)
    expected = type(getattr(owner, leaf))
    if not isinstance(section, expected):
        raise TypeError(f"{path}: summarize gave {type(section).__name__}, not {expected.__name__}")
    setattr(owner, leaf, section)


def _section_type(name: str) -> type[Section]:
    """The model of the result's section ``name`` (a subclass of Section)."""
    annotation = AnalysisResult.model_fields[name].annotation
    assert isinstance(annotation, type) and issubclass(annotation, Section), name
    return annotation


def _not_enabled_reason(section: str) -> Reason:
    return reason("not_enabled", section=section)

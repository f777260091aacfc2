"""Results of any length on ``analysis-results``: the whole result when it fits one message,
else a compact result pointing at the whole one (the claim-check pattern).

A result grows about 1 KB per second of video (a 20-minute interview: 1.09 MB, over stock
Kafka's 1 MB message limit), so a platform reading ``analysis-results`` gets, in this order of
preference, the first form that fits ``VA_RESULT_INLINE_MAX_BYTES``:

- ``inline``: the result itself (``result_ref`` null);
- ``compact``: the result with the lists that grow with the video emptied (``omitted`` names
  them: the timeline, transcript segments, turns...), so every section's figures, the structure,
  the models, ``run`` and ``created_at`` are still there; ``result_ref`` says where the whole
  result is, its size and its sha256;
- ``summary``: the compact result without the per-answer, per-question and per-speaker lists
  either, for a limit set very low.

All three are ``AnalysisResult`` JSON, so a consumer parses one schema and checks
``result_ref``. Pure: bytes and models in, bytes out; the join publishes (``streams/delivery``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .schemas import AnalysisResult, ResultRef

#: Lists that grow with the video's length, emptied in a compact result (key paths; ``*`` is
#: every value of a mapping). Each is in the full result at ``result_ref``.
COMPACT_OMITS: tuple[str, ...] = (
    "timeline",
    "speech.transcript",
    "speech.segments",
    "speech.turns",
    "speech.overlaps.regions",
    "speech.response_delays",
    "speech.speakers.per_speaker.*.response_delays",
    "face.expression.timeline",
    "face.action_units.timeline",
    "gaze.away_episodes",
    "gestures.face_touching_episodes",
)
#: Also emptied when even the compact result does not fit: lists that grow with the number of
#: answers, questions and speakers.
SUMMARY_OMITS: tuple[str, ...] = (
    *COMPACT_OMITS,
    "speech.speakers.per_speaker",
    "speech.questions",
    "structure.answers",
    "structure.response_delays_s",
    "structure.interruptions",
    "structure.questions",
    "metadata.questions",
)


@dataclass(frozen=True)
class Message:
    """One form of a result as it would be published."""

    form: str  # inline, compact or summary
    value: bytes


def body_of(result: AnalysisResult) -> bytes:
    """The full result's JSON bytes: what the result store keeps and the API serves, so that
    ``result_ref.sha256`` is their hash. (The bytes pydantic writes: ``model_dump_json`` would
    decode them to a str that is then encoded again, two more copies of megabytes.)"""
    body: bytes = result.__pydantic_serializer__.to_json(result)
    return body


def reference(
    result: AnalysisResult, body: bytes, *, public_base_url: str = "", object_uri: str | None
) -> ResultRef:
    """Where the full result ``body`` of ``result`` can be fetched, with its size and hash."""
    api_path = f"/videos/{result.video_id}/result"
    base = public_base_url.rstrip("/")
    return ResultRef(
        api_path=api_path,
        url=f"{base}{api_path}" if base else None,
        object_uri=object_uri,
        size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
    )


def object_key(prefix: str, video_id: str, run: int) -> str:
    """The object key of a run's full result under ``prefix``: one object per run, so the
    sha256 a message names always matches the object it points at."""
    return "/".join(p for p in (prefix.strip("/"), video_id, f"result-run{run}.json") if p)


def forms(result: AnalysisResult, body: bytes, ref: ResultRef) -> Iterator[Message]:
    """The result's forms, largest first: whole, compact, summary. A smaller form is a copy
    of the result's models that shares all but the lists it empties, written by pydantic
    (reading the body back into dicts held a second, larger copy of an hour's result: 22 MiB
    of Python objects for its 5 MB)."""
    yield Message("inline", body)
    for form, omits in (("compact", COMPACT_OMITS), ("summary", SUMMARY_OMITS)):
        shrunk = result
        for path in omits:
            shrunk = _emptied(shrunk, path.split("."))
        shrunk = shrunk.model_copy(update={"result_ref": ref, "omitted": list(omits)})
        yield Message(form, body_of(shrunk))


def fitting(messages: Iterator[Message], limit_bytes: int) -> Iterator[Message]:
    """The forms of at most ``limit_bytes``, largest first; built only as far as they are
    taken, so a result that fits whole is never shrunk."""
    return (m for m in messages if len(m.value) <= limit_bytes)


def verified(body: bytes, ref: ResultRef) -> AnalysisResult | None:
    """The full result in ``body`` when it is the one ``ref`` names (same sha256), else None
    (a newer run replaced it, or it is not a result at all)."""
    if hashlib.sha256(body).hexdigest() != ref.sha256:
        return None
    return AnalysisResult.model_validate_json(body)


def _emptied(node: Any, keys: list[str]) -> Any:
    """``node`` with the value at the key path ``keys`` replaced by an empty one of its type
    (a list by [], a string by "", a mapping by {}; ``*`` is every value of a mapping): a
    shallow copy along the path, everything else shared. A path not there changes nothing."""
    if not keys:
        return type(node)() if isinstance(node, list | str | dict) else node
    head, rest = keys[0], keys[1:]
    if isinstance(node, dict):
        names = list(node) if head == "*" else [head] if head in node else []
        return {**node, **{name: _emptied(node[name], rest) for name in names}} if names else node
    if isinstance(node, BaseModel) and head in type(node).model_fields:
        value = getattr(node, head)
        if value is None:
            return node
        return node.model_copy(update={head: _emptied(value, rest)})
    return node

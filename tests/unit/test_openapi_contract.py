"""The OpenAPI document is a contract: schemathesis checks every route against it.

Every check schemathesis has (status codes, content types and headers documented, bodies
matching their schemas, valid data accepted, invalid data refused, auth not ignored, a deleted
video not served, no server error) runs on generated requests to each route, then on
sequences of calls that follow the document's links: upload, then status, events, result,
report, reprocess and delete of the video it made. The workers are stood in for by a
publisher that finishes each video at once, so that the result, the report and the end of the
event stream are reached. A generated upload carries a real video: what makes an upload
valid is a container, which no schema can describe to a generator.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi import FastAPI  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.media_factory import make_clip  # noqa: E402
from tests.unit.test_api import FakePublisher, keyed  # noqa: E402
from video_analysis.api import create_app  # noqa: E402
from video_analysis.schemas import (  # noqa: E402
    AnalysisResult,
    ResultStatus,
    VideoState,
    VideoStatus,
    VideoUploaded,
)
from video_analysis.settings import Settings  # noqa: E402
from video_analysis.store import EmbeddedStatusStore, SQLiteResultStore  # noqa: E402

UPLOAD = "POST /analyze-video"
#: Reproducible in CI: the same requests on every run.
HYPOTHESIS = settings(
    derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


class InstantWorkers(FakePublisher):
    """The workers as if they finished each published video at once: a complete result is
    stored and the status becomes complete (for the run the event is of)."""

    def __init__(self, results: SQLiteResultStore, status: EmbeddedStatusStore) -> None:
        super().__init__()
        self.results, self.status = results, status

    async def publish_upload(self, event: VideoUploaded) -> None:
        await super().publish_upload(event)
        done = AnalysisResult(
            video_id=event.video_id,
            status=ResultStatus.COMPLETE,
            run=event.run,
            created_at=datetime.now(UTC),
        )
        await self.results.save_result(done)
        await self.status.set_status(
            VideoStatus(
                video_id=event.video_id, state=VideoState.COMPLETE, progress=1.0, run=event.run
            )
        )


def _app(root: Path, key_entries: str | None = None) -> tuple[FastAPI, dict[str, str]]:
    """An app with its own stores under ``root``; the keys of ``key_entries`` when given."""
    base = Settings(
        environment="test",
        data_dir=root / "data",
        upload_root=root / "uploads",
        models_dir=root / "models",
        public_base_url="http://api.test",
        events_poll_s=0.01,
    )
    keys: dict[str, str] = {}
    if key_entries is None:
        base, keys = keyed(base, ("all", "submit+read+delete+admin"))
    else:
        base = Settings(**{**base.model_dump(), "api_keys": key_entries})
    base.data_dir.mkdir(parents=True, exist_ok=True)
    db = base.data_dir / "results.sqlite3"
    results, status = SQLiteResultStore(db), EmbeddedStatusStore(db)
    app = create_app(
        base,
        publisher=InstantWorkers(results, status),
        result_store=results,
        status_store=status,
    )
    return app, keys


_ROOT = Path(tempfile.mkdtemp(prefix="va-contract-"))
APP, KEYS = _app(_ROOT / "app")
CLIP = make_clip(_ROOT / "clip.mp4", duration=1.0, size=(64, 48)).read_bytes()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    APP,
    config=schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"APIKeyHeader": {"api_key": KEYS["all"]}}},
            # Every check. A request valid by the schema may still find its video gone (410),
            # as it may find it unknown (404) or busy (409): state, not data, refuses it.
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "410"]
                },
            },
            "generation": {"max-examples": 25},
        }
    ),
)


def _valid_upload(case: Any) -> None:
    """A positive upload carries a real (tiny) video where the schema says binary, and its
    questions end after they start: two things JSON Schema cannot say (their descriptions
    do), so a generator cannot know them."""
    if case.operation.label != UPLOAD or not isinstance(case.body, dict):
        return
    if case.meta is not None and not case.meta.generation.mode.is_positive:
        return
    case.body["file"] = CLIP
    metadata = case.body.get("metadata")
    if isinstance(metadata, dict):
        for span in metadata.get("questions") or []:
            start, end = span.get("start"), span.get("end")
            if isinstance(start, float | int) and isinstance(end, float | int) and end <= start:
                span["start"], span["end"] = (0.0, end) if end == start else (end, start)


@schema.parametrize()
@HYPOTHESIS
def test_every_route_keeps_its_contract(case: Any) -> None:
    _valid_upload(case)
    case.call_and_validate()


class Workflows(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Each scenario starts from an empty service, so that a replayed scenario meets
        # the state it met the first time (hypothesis shrinks by replaying).
        fresh, _ = _app(Path(tempfile.mkdtemp(dir=_ROOT)), APP.state.components.settings.api_keys)
        APP.state.components = fresh.state.components

    def before_call(self, case: Any) -> None:
        _valid_upload(case)


TestWorkflows = Workflows.TestCase
TestWorkflows.settings = settings(HYPOTHESIS, max_examples=20, stateful_step_count=6)

"""The FastAPI sidecar: takes an upload, stores it, publishes ``VideoUploaded``, reads status.

Thin by design: validation, storage and publishing only; the analysis happens in the workers.
``create_app`` wires the components, the error handlers and the routers (``api/routes/``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .. import __version__
from ..auth import KeyRing
from ..schemas import VideoMetadata, VideoStatus
from ..schemas.api import ErrorBody, TranscriptUpdate
from ..settings import Settings, get_settings
from ..store import (
    ResultStore,
    Sources,
    StatusStore,
    UploadStorage,
    create_result_store,
    create_status_store,
)
from ..store.lifecycle import enter, start_or_log
from .deps import Components, Publisher
from .errors import install_error_handlers
from .media import MediaLinks
from .metrics import Metrics
from .routes import ROUTERS

log = logging.getLogger(__name__)

#: Models that the document names by reference only: the upload form's metadata, the error
#: body (routes document it in JSON whatever their own media type) and the events' data.
REFERENCED_MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (VideoMetadata, "validation"),
    (ErrorBody, "serialization"),
    (VideoStatus, "serialization"),
    (TranscriptUpdate, "serialization"),
)


def create_app(
    settings: Settings | None = None,
    *,
    publisher: Publisher | None = None,
    result_store: ResultStore | None = None,
    status_store: StatusStore | None = None,
) -> FastAPI:
    """Build the app; components not injected are built from settings and owned by the app."""
    settings = settings or get_settings()
    keys = KeyRing(settings.api_keys)
    if keys.open:
        if settings.environment == "production":
            raise ValueError(
                "VA_API_KEYS is empty: the production API needs keys "
                "(video-analysis keys create NAME --scopes submit,read)"
            )
        log.warning("VA_API_KEYS is empty: the API is open to anyone who can reach it")
    components = Components(
        settings=settings,
        keys=keys,
        publisher=_default_publisher(settings) if publisher is None else publisher,
        results=create_result_store(settings) if result_store is None else result_store,
        status=create_status_store(settings) if status_store is None else status_store,
        uploads=UploadStorage(settings.upload_root),
        sources=Sources(settings),
        links=MediaLinks.from_settings(settings),
        metrics=Metrics(),
    )
    # What was built here (not injected) is the app's to start and close.
    owned_stores = [
        store
        for store, given in ((components.results, result_store), (components.status, status_store))
        if given is None
    ]
    owned_publisher = components.publisher if publisher is None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await _open(components.sources, owned_stores, owned_publisher, stack)
            yield

    docs = settings.docs_enabled
    app = FastAPI(
        title="video-analysis",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.components = components
    install_error_handlers(app, [route for router in ROUTERS for route in router.routes])
    components.metrics.time_requests(app)
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _open(
    sources: Sources,
    stores: list[ResultStore | StatusStore],
    publisher: Publisher | None,
    stack: AsyncExitStack,
) -> None:
    """Start what the app owns and have ``stack`` close it, in reverse, on shutdown.

    The API must come up even when a dependency is down: readiness says so, and the stores
    and the publisher reconnect on their next use. The publisher (and, with S3, the upload
    bucket) start in the background: connecting to a broker that is down can take long."""
    background: list[asyncio.Task[None]] = []

    async def stop_background() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    if sources.upload_prefix is not None:
        background.append(asyncio.create_task(_ensure_upload_bucket(sources)))
    for store in stores:
        await enter(stack, store, tolerate=True)
    if publisher is not None:
        await enter(stack, publisher, start=False)
        background.append(asyncio.create_task(start_or_log(publisher)))
    stack.push_async_callback(stop_background)


async def _ensure_upload_bucket(sources: Sources) -> None:
    """Create the upload store's bucket on a fresh object store (MinIO in compose)."""
    assert sources.upload_prefix is not None
    try:
        await asyncio.to_thread(sources.objects.ensure_bucket, sources.upload_prefix.bucket)
    except Exception as exc:  # readiness reports the store while it is unreachable
        log.error("upload bucket %s unavailable: %s", sources.upload_prefix.bucket, exc)


def _default_publisher(settings: Settings) -> Publisher:
    from ..streams.publisher import EventPublisher

    return EventPublisher(settings)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the models only hand-written parts of it refer to."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, routes=app.routes, servers=app.servers
        )
        _, extra = models_json_schema(
            REFERENCED_MODELS,
            ref_template="#/components/schemas/{model}",
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in extra.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        app.openapi_schema = document
    return app.openapi_schema

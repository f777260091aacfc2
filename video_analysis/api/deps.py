"""What routes depend on: the app's components, the caller's key with a scope, a known video.

Routes declare these as ``Annotated`` parameters (``key: ReadKey``, ``video_id: VideoId``), as
in fastapi/full-stack-fastapi-template's ``api/deps.py``; tests reach the same components
through ``components_of(app)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..auth import ApiKey, KeyRing
from ..errors import Forbidden, Unauthorized, UnknownVideo, UploadGone
from ..schemas import VideoState, VideoStatus, VideoUploaded
from ..schemas.events import valid_video_id
from ..settings import Settings
from ..store import ResultStore, Sources, StatusStore, UploadStorage
from .media import MediaLinks
from .metrics import Metrics


class Publisher(Protocol):
    """What the API needs from ``streams.publisher.EventPublisher``."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish_upload(self, event: VideoUploaded) -> None: ...
    async def publish_deletion(self, video_id: str) -> None: ...
    async def ping(self) -> None: ...


@dataclass
class Components:
    """Everything a route uses, built once per app by ``create_app``."""

    settings: Settings
    keys: KeyRing
    publisher: Publisher
    results: ResultStore
    status: StatusStore
    uploads: UploadStorage
    sources: Sources
    links: MediaLinks
    metrics: Metrics


def components_of(app: FastAPI) -> Components:
    components: Components = app.state.components
    return components


def _components(request: Request) -> Components:
    return components_of(request.app)


ComponentsDep = Annotated[Components, Depends(_components)]

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key from `video-analysis keys create`."
)
_bearer = HTTPBearer(auto_error=False, description="The same key as a bearer token.")


class Scope:
    """A dependency: the caller's key must carry ``scope`` (anyone, when keys are off)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(
        self,
        c: ComponentsDep,
        api_key: Annotated[str | None, Security(_api_key)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> ApiKey | None:
        if c.keys.open:
            return None
        presented = api_key.strip() if api_key else bearer.credentials.strip() if bearer else None
        key = c.keys.identify(presented)
        if key is None:
            raise Unauthorized("send a valid API key as X-API-Key or Authorization: Bearer")
        if self.scope not in key.scopes:
            raise Forbidden(f"the key {key.name!r} does not have the {self.scope!r} scope")
        return key


ReadKey = Annotated[ApiKey | None, Depends(Scope("read"))]
SubmitKey = Annotated[ApiKey | None, Depends(Scope("submit"))]
DeleteKey = Annotated[ApiKey | None, Depends(Scope("delete"))]
AdminKey = Annotated[ApiKey | None, Depends(Scope("admin"))]


def is_admin(c: Components, key: ApiKey | None) -> bool:
    return c.keys.open or (key is not None and "admin" in key.scopes)


def _checked_id(video_id: str) -> str:
    # An id that cannot exist is an unknown video, not a validation error: no id is
    # ever refused differently from another that is simply not there.
    if not valid_video_id(video_id):
        raise UnknownVideo(f"no video with id {video_id!r}")
    return video_id


#: A path's ``video_id`` that could name a video (404 ``unknown_video`` otherwise).
VideoId = Annotated[str, Depends(_checked_id)]


async def known_video(c: Components, video_id: str) -> VideoStatus:
    """The status of ``video_id``; ``UnknownVideo`` when this service has none."""
    status = await c.status.get_status(video_id)
    if status is None:
        raise UnknownVideo(f"no video with id {video_id!r}")
    return status


def refuse_deleted(status: VideoStatus) -> VideoStatus:
    """``status``, unless its video was erased: then 410 ``deleted``, as every read of it
    answers (its status record stays only to keep the id taken)."""
    if status.state is VideoState.DELETED:
        raise UploadGone(f"video {status.video_id!r} was deleted", code="deleted")
    return status


async def live_video(c: Components, video_id: str) -> VideoStatus:
    """The status of ``video_id``, known and not erased (404 ``unknown_video``, 410
    ``deleted``)."""
    return refuse_deleted(await known_video(c, video_id))


async def _known(c: ComponentsDep, video_id: VideoId) -> VideoStatus:
    return await live_video(c, video_id)


#: The status of the path's video, which this service knows and has not erased (404
#: ``unknown_video``, 410 ``deleted``).
KnownVideo = Annotated[VideoStatus, Depends(_known)]

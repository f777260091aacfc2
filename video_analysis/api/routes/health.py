"""Liveness and readiness: no key needed, for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ... import __version__
from ...schemas.api import Check, Liveness, NotReady, Readiness, ServiceInfo
from ..deps import ComponentsDep

READY_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


@router.get("/", operation_id="service_info")
async def root() -> ServiceInfo:
    return ServiceInfo(version=__version__, docs="/docs")


@router.get("/health", operation_id="liveness")
async def health() -> Liveness:
    """The process answers (it says nothing of the stores or the broker)."""
    return Liveness()


@router.get(
    "/health/ready",
    operation_id="readiness",
    response_model=Readiness,
    responses={503: {"model": NotReady, "description": "not_ready: a dependency is down."}},
)
async def ready(c: ComponentsDep) -> JSONResponse:
    """Whether the broker, the stores and (with S3) the upload store answer."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "broker": c.publisher.ping,
        "results": c.results.ping,
        "status": c.status.ping,
    }
    upload_store = c.sources.upload_prefix
    if upload_store is not None:
        bucket = upload_store.bucket
        checks["uploads"] = lambda: asyncio.to_thread(c.sources.objects.ping, bucket)
    outcomes = await asyncio.gather(*(_check(ping) for ping in checks.values()))
    report = dict(zip(checks, outcomes, strict=True))
    failed = {name: check.error for name, check in report.items() if not check.ok}
    if not failed:
        return JSONResponse(Readiness(checks=report).model_dump(mode="json", exclude_none=True))
    message = "; ".join(f"{name}: {why}" for name, why in failed.items())
    body = NotReady(error={"code": "not_ready", "message": message}, checks=report)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=503)


async def _check(ping: Callable[[], Awaitable[None]]) -> Check:
    try:
        await asyncio.wait_for(ping(), timeout=READY_TIMEOUT_S)
    except TimeoutError:
        return Check(ok=False, error=f"no answer within {READY_TIMEOUT_S:g} s")
    except Exception as exc:
        return Check(ok=False, error=f"{type(exc).__name__}: {exc}")
    return Check(ok=True)

"""``GET /metrics``: the API's Prometheus metrics, for admin keys."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import AdminKey, ComponentsDep
from ..errors import answers

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    operation_id="prometheus_metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **answers(401, 403),
    },
)
async def prometheus_metrics(key: AdminKey, c: ComponentsDep) -> Response:
    return Response(generate_latest(c.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""``GET /models/status``: which weights are installed, verified and loaded by workers."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter

from ...errors import VideoAnalysisError
from ...schemas.api import ModelsStatus
from ..deps import ComponentsDep, ReadKey, is_admin
from ..errors import answers

log = logging.getLogger(__name__)

#: Workers renew their model reports every MODEL_REPORT_INTERVAL_S (streams/analyzer_agent.py);
#: a report older than this is of a worker that is gone.
MODEL_REPORT_MAX_AGE_S = 60.0

router = APIRouter(tags=["models"])


@router.get("/models/status", operation_id="models_status", responses=answers(401, 403))
async def models_status(key: ReadKey, c: ComponentsDep) -> ModelsStatus:
    """Every model the analyzers use. Paths, workers and error details for admin keys only."""
    from ... import models

    items = await asyncio.to_thread(models.status, c.settings)
    # The API loads no model itself: "loaded" comes from what the workers report.
    try:
        loads = await c.status.model_loads(max_age_s=MODEL_REPORT_MAX_AGE_S)
    except VideoAnalysisError as exc:
        log.warning("worker model reports unavailable: %s", exc)
    else:
        items = models.with_worker_loads(items, loads)
    if not is_admin(c, key):
        # Paths, host names and PIDs describe the server: for operators only.
        items = [
            item.model_copy(
                update={
                    "path": None,
                    "workers": [],
                    "error": "not available (details for admin keys)" if item.error else None,
                }
            )
            for item in items
        ]
    return ModelsStatus(models=items)

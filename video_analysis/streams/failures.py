"""The one place that decides what happens to a message that could not be processed.

User-caused failures (bad file, bad event) and analyzer crashes become a DLQ record with topic,
partition, offset and video_id, so nothing is lost and the worker goes on with the next message.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import error_info
from ..schemas import DeadLetter

log = logging.getLogger(__name__)

PAYLOAD_LIMIT = 4096


def dead_letter(
    *,
    stage: str,
    message: Any,
    video_id: str | None,
    exc: BaseException,
) -> DeadLetter:
    """Build the DLQ record for ``message`` (a Faust ``Message``) and log the failure once."""
    info = error_info(exc)
    value = message.value if isinstance(message.value, bytes) else str(message.value).encode()
    record = DeadLetter(
        stage=stage,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        video_id=video_id,
        error=info,
        payload=value[:PAYLOAD_LIMIT].decode("utf-8", errors="replace"),
    )
    log_args = (stage, message.topic, message.partition, message.offset, video_id, info.code)
    if info.code == "internal_error":
        # A bug, not bad input: keep the traceback in the log.
        log.error(
            "%s failed topic=%s partition=%s offset=%s video_id=%s code=%s",
            *log_args,
            exc_info=exc,
        )
    else:
        log.warning(
            "%s rejected topic=%s partition=%s offset=%s video_id=%s code=%s: %s",
            *log_args,
            info.message,
        )
    return record

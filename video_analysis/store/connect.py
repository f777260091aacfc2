"""What every store shares about reaching its backend: the retry at start and the error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..errors import VideoAnalysisError

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreUnavailable(VideoAnalysisError):
    """The database or Redis cannot be reached; the request may be retried later."""

    code = "store_unavailable"
    http_status = 503


async def retry_connect(
    connect: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    max_wait_s: float = 5.0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    log_level: int = logging.WARNING,
) -> T:
    """Wait for a service at start: bounded retries with exponential backoff."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.05, min=0.05, max=max_wait_s),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
        before_sleep=lambda state: log.log(
            log_level,
            "%s not reachable yet (attempt %s): %s",
            what,
            state.attempt_number,
            state.outcome.exception() if state.outcome else None,
        ),
    )
    async for attempt in retrying:
        with attempt:
            return await connect()
    raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying reraises

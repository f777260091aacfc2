"""Publishing a video's result on ``analysis-results`` so that it always arrives.

The forms come from ``claim_check`` (the whole result when it fits, else a compact result
that points at it). A send is retried while the broker's error says a retry can help (a lost
connection, a leader moving) for up to ``patience_s``; a message the broker or the client
refuses (too large, invalid) is replaced by the next smaller form. A result that no form can
carry is finalised with a code (``result_not_delivered``) instead of crashing the join: it
stays in the result store, its status says so, and a DLQ record names it. Before this, a
20-minute interview's 1.09 MB result crashed the join's send and never reached consumers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    ProducerClosed,
    UnknownError,
)
from faust.exceptions import ProducerSendError

from ..claim_check import Message
from ..schemas import ErrorInfo

log = logging.getLogger(__name__)

#: Backoff between two tries of one send (seconds).
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0

Send = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """How a result went out: its form (None: not at all), tries, and why not."""

    form: str | None
    tries: int = 0
    error: ErrorInfo | None = None


async def deliver(
    send: Send,
    messages: Iterable[Message],
    *,
    video_id: str,
    patience_s: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Send the first of ``messages`` (largest first, each within the size limit) that the
    broker takes. A worker shutting down (``ProducerClosed``) is not a delivery failure: it
    propagates, so the input stays uncommitted and the result goes out after the restart."""
    started = clock()
    tries = 0
    last: BaseException | None = None
    for message in messages:
        delay = RETRY_MIN_S
        while True:
            tries += 1
            try:
                await send(message.value)
            except (ProducerSendError, KafkaError) as exc:
                cause = cause_of(exc)
                if isinstance(cause, ProducerClosed):
                    raise
                last = cause
                if not retriable(cause):
                    log.warning(
                        "result of video_id=%s refused as %s (%d bytes): %r",
                        video_id,
                        message.form,
                        len(message.value),
                        cause,
                    )
                    break  # the next, smaller form
                if clock() - started + delay > patience_s:
                    return _undelivered(video_id, tries, cause, patience_s)
                log.warning(
                    "result of video_id=%s not sent (try %d), again in %.1f s: %r",
                    video_id,
                    tries,
                    delay,
                    cause,
                )
                await sleep(delay)
                delay = min(2 * delay, RETRY_MAX_S)
                continue
            if message.form != "inline":
                log.info(
                    "result of video_id=%s published as %s (%d bytes) with result_ref",
                    video_id,
                    message.form,
                    len(message.value),
                )
            return Delivery(message.form, tries)
    if tries == 0:
        return Delivery(
            None,
            error=ErrorInfo(
                code="result_not_delivered",
                message="no form of the result fits VA_RESULT_INLINE_MAX_BYTES; it is stored "
                "and served by GET /videos/{id}/result",
            ),
        )
    return _undelivered(video_id, tries, last, patience_s)


def cause_of(exc: BaseException) -> BaseException:
    """The client's error behind Faust's ``ProducerSendError`` (which wraps it)."""
    if isinstance(exc, ProducerSendError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def retriable(exc: BaseException) -> bool:
    """Whether sending the same message again can succeed: aiokafka marks its retriable
    errors; a timeout or a lost connection are too (the broker may be back)."""
    return bool(getattr(exc, "retriable", False)) or isinstance(
        exc, KafkaTimeoutError | KafkaConnectionError
    )


def transient(exc: BaseException) -> bool:
    """Whether a send that failed with ``exc`` is the broker's passing trouble, not the
    message's: what :func:`retriable` says, and the embedded broker's ``UnknownError`` for a
    topic it lost with a restart (before ``dev`` has created it again)."""
    cause = cause_of(exc)
    return retriable(cause) or isinstance(cause, UnknownError)


def _undelivered(
    video_id: str, tries: int, cause: BaseException | None, patience_s: float
) -> Delivery:
    reason = repr(cause) if cause is not None else "no form was accepted"
    log.error(
        "result of video_id=%s could not be published after %d tries: %s", video_id, tries, reason
    )
    return Delivery(
        None,
        tries=tries,
        error=ErrorInfo(
            code="result_not_delivered",
            message=f"the result could not be published on analysis-results ({reason}; "
            f"{tries} tries within {patience_s:.0f} s); it is stored and served by "
            "GET /videos/{id}/result",
        ),
    )

"""The stores and the event publisher, open for one command (``delete``, ``reprocess``,
``dev``'s catch-up after a broker restart) and closed after it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

from .settings import Settings
from .store import Sources, create_result_store, create_status_store
from .store.lifecycle import enter

T = TypeVar("T")


async def with_connections(settings: Settings, action: Callable[..., Awaitable[T]]) -> T:
    """``action(results=, status=, sources=, publisher=)`` with the stores open; the publisher
    connects on its first message (a command that publishes nothing needs no broker)."""
    from .streams.publisher import EventPublisher  # confluent-kafka, only when it is used

    async with AsyncExitStack() as stack:
        results = await enter(stack, create_result_store(settings))
        status = await enter(stack, create_status_store(settings))
        publisher = await enter(stack, EventPublisher(settings), start=False)
        return await action(
            results=results, status=status, sources=Sources(settings), publisher=publisher
        )

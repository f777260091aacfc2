"""Opening and closing what talks to another service: stores, the event publisher.

One rule for the API, the workers and the CLI: what is entered is closed, in reverse order,
on the way out of its ``AsyncExitStack``, and a failure to close is logged, not raised (it
must not hide the error that is ending the block, nor stop the rest from closing).
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)


class Connection(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...


C = TypeVar("C", bound=Connection)


async def enter(
    stack: AsyncExitStack, connection: C, *, start: bool = True, tolerate: bool = False
) -> C:
    """``connection``, started (unless ``start`` is false: it connects on first use) and
    closed when ``stack`` closes. With ``tolerate``, a start that fails is logged and the
    connection is used anyway (it reconnects on its next use: the API comes up with a store
    down and says so in its readiness)."""
    stack.push_async_callback(_close, connection)
    if start:
        await (start_or_log(connection) if tolerate else connection.start())
    return connection


async def start_or_log(connection: Connection) -> None:
    """Start ``connection``; a failure is logged, not raised (it reconnects on next use)."""
    try:
        await connection.start()
    except Exception as exc:  # noqa: BLE001 - the caller goes on without it, and says so
        log.error("%s did not start: %s", type(connection).__name__, exc)


async def _close(connection: Connection) -> None:
    try:
        await connection.close()
    except Exception as exc:  # noqa: BLE001 - see the module's docstring
        log.warning("closing %s failed: %s", type(connection).__name__, exc)

"""Faust tables whose changelog writes can be awaited.

Faust sends a table's changelog records through its producer buffer and, before it commits the
input's offsets, flushes that buffer; but the flush gives up after 0.1 s, and a record the
buffer has already taken off its queue is not yet in the Kafka client's either. A worker
killed in that window has its offsets committed and its state lost. The join therefore waits
for the broker to acknowledge every record it wrote before the message that wrote them counts
as processed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.types import FutureMessage

log = logging.getLogger(__name__)

#: How long the join waits for its changelog records before it says so (and waits on).
ACK_WARN_S = 30.0


class AckedTable(faust.Table):  # type: ignore[type-arg]
    """A table that remembers its changelog records until they are acknowledged."""

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        sent: FutureMessage = super().send_changelog(*args, **kwargs)
        self.__dict__.setdefault("_unacked", []).append(sent)
        return sent

    def take_unacked(self) -> list[FutureMessage]:
        unacked: list[FutureMessage] = self.__dict__.pop("_unacked", [])
        return unacked


def acked_table(app: faust.App, name: str, partitions: int) -> AckedTable:
    """An :class:`AckedTable` registered with ``app`` as ``app.Table`` would register it."""
    table = AckedTable(app, name=name, beacon=app.tables.beacon, partitions=partitions)
    app.tables.add(table)
    return table


async def wait_acked(*tables: AckedTable) -> None:
    """Wait until the broker has acknowledged every changelog record ``tables`` wrote; a record
    the producer failed to send raises here, so its message is not committed."""
    sent = [record for table in tables for record in table.take_unacked()]
    pending = set(sent)
    waited = 0.0
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=ACK_WARN_S)
        if pending:
            waited += ACK_WARN_S
            log.warning(
                "%d changelog records not acknowledged after %.0f s; is the broker reachable?",
                len(pending),
                waited,
            )
    for record in sent:
        record.result()

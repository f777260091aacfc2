"""Faust tables whose changelog writes can be awaited.

Faust sends a table's changelog records through its producer buffer and, before it commits the
input's offsets, flushes that buffer; but the flush gives up after 0.1 s, and a record the
buffer has already taken off its queue is not yet in the Kafka client's either. A worker
killed in that window has its offsets committed and its state lost. The join therefore waits
for the broker to acknowledge every record it wrote before the message that wrote them counts
as processed.

A table of large values (the join's parts) keeps them zstd-compressed (:func:`packed`): an
hour's parts are about 32 MiB of JSON text and a quarter of that compressed, in the join's
memory and on its changelog.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import cramjam
import faust
from faust.types import FutureMessage

log = logging.getLogger(__name__)

#: How long the join waits for its changelog records before it says so (and waits on).
ACK_WARN_S = 30.0
#: What a packed value starts with (no JSON text does).
PACKED = "zstd:"
#: zstd's level for table values: its fastest, a fraction of a millisecond per part.
ZSTD_LEVEL = 1


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


def packed(text: str) -> str:
    """``text`` (JSON) as a table value: zstd-compressed UTF-8, in base64 (the table's values
    are JSON, as its changelog's records have always been)."""
    return (
        PACKED + base64.b64encode(cramjam.zstd.compress(text.encode(), level=ZSTD_LEVEL)).decode()
    )


def unpacked(value: Any) -> Any:
    """The JSON text a :func:`packed` value holds; any other value (the JSON text or the dict
    an earlier join kept) as it is."""
    if isinstance(value, str) and value.startswith(PACKED):
        return bytes(cramjam.zstd.decompress(base64.b64decode(value[len(PACKED) :]))).decode()
    return value


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

"""Topic creation, done before any Faust worker or producer touches the broker.

Why not leave it to auto-creation: a broker may auto-create a topic on first metadata request
with its own default partition count (the embedded Tansu broker makes 4), and Faust then refuses
to start a table whose changelog has a different count than its source topic. Creating every
topic, changelogs included, with one configured count keeps them co-partitioned by video_id.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from ..settings import Settings
from .topics import ALL_TOPICS

log = logging.getLogger(__name__)

JOIN_TABLE = "video-joins"
PARTS_TABLE = "video-parts"


def changelog_topics(settings: Settings) -> list[str]:
    """Changelog topics of the Faust tables of every app id a role can run under."""
    from .app import app_id_for_role  # local: keeps this module free of Faust

    return [
        f"{app_id_for_role(settings, role)}-{table}-changelog"
        for role in ("join", "all")
        for table in (JOIN_TABLE, PARTS_TABLE)
    ]


def all_topic_names(settings: Settings) -> list[str]:
    return [settings.topic(name) for name in ALL_TOPICS] + changelog_topics(settings)


@retry(
    retry=retry_if_exception_type((KafkaConnectionError, OSError)),
    wait=wait_exponential(multiplier=0.5, max=5),
    stop=stop_after_delay(60),
    reraise=True,
)
async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic that is missing; return the names created."""
    try:
        return await asyncio.wait_for(_ensure_topics(settings), timeout=15)
    except TimeoutError as exc:
        raise KafkaConnectionError(f"broker {settings.broker_url} did not answer") from exc


async def _ensure_topics(settings: Settings) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=10_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in all_topic_names(settings) if name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=_topic_config(name, settings),
            )
            for name in wanted
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            # Another process created them between our list and create: that is fine.
            pass
        log.info("created topics %s", ", ".join(wanted))
        return wanted
    finally:
        await admin.close()


def _topic_config(name: str, settings: Settings) -> dict[str, str]:
    config = {"max.message.bytes": str(max(settings.max_message_bytes + 100_000, 1_048_588))}
    if name.endswith("-changelog"):
        config["cleanup.policy"] = "compact"
    return config

"""Topic creation, done before any Faust worker or producer touches the broker.

Why not leave it to auto-creation: a broker may auto-create a topic on first metadata request
with its own default partition count (the embedded Tansu broker makes 4), and Faust then refuses
to start a table whose changelog has a different count than its source topic. Creating every
topic, changelogs included, with one configured count keeps them co-partitioned by video_id.
"""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from ..settings import Settings
from .names import changelog_topics
from .topics import ALL_TOPICS

log = logging.getLogger(__name__)

#: Seconds one admin request (list, create) may take before the broker counts as unreachable.
REQUEST_TIMEOUT_S = 10.0


class BrokerUnavailable(Exception):
    """The broker did not answer (down, unreachable, or too slow); worth trying again."""


def all_topic_names(settings: Settings) -> list[str]:
    return [settings.topic(name) for name in ALL_TOPICS] + changelog_topics(settings)


@retry(
    retry=retry_if_exception_type((BrokerUnavailable, OSError)),
    wait=wait_exponential(multiplier=0.5, max=5),
    stop=stop_after_delay(60),
    reraise=True,
)
async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic that is missing; return the names created. confluent-kafka (the
    client platform teams use) does it, off the event loop."""
    return await asyncio.to_thread(_ensure_topics, settings)


def _ensure_topics(settings: Settings) -> list[str]:
    admin = AdminClient(admin_config(settings))
    try:
        existing = set(admin.list_topics(timeout=REQUEST_TIMEOUT_S).topics)
    except KafkaException as exc:
        raise BrokerUnavailable(f"broker {settings.broker_url} did not answer: {exc}") from exc
    wanted = [name for name in all_topic_names(settings) if name not in existing]
    if not wanted:
        return []
    new = [
        NewTopic(
            name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication,
            config=_topic_config(name, settings),
        )
        for name in wanted
    ]
    futures = admin.create_topics(new, request_timeout=REQUEST_TIMEOUT_S)
    for name, future in futures.items():
        try:
            future.result(timeout=REQUEST_TIMEOUT_S * 2)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another process created it between our list and create
            if isinstance(error, KafkaError) and (error.retriable() or _transport(error)):
                raise BrokerUnavailable(f"creating topic {name}: {error}") from exc
            raise
        except TimeoutError as exc:
            raise BrokerUnavailable(f"creating topic {name}: no answer") from exc
    log.info("created topics %s", ", ".join(wanted))
    return wanted


def admin_config(settings: Settings) -> dict[str, str | int | float | bool]:
    """The librdkafka settings every confluent-kafka client of the service starts from."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "socket.timeout.ms": int(REQUEST_TIMEOUT_S * 1000),
        "log_level": 3,  # errors only: connection chatter is retried and reported by callers
    }


def _transport(error: KafkaError) -> bool:
    return error.code() in (
        KafkaError._TRANSPORT,  # noqa: SLF001 - librdkafka's local error codes
        KafkaError._TIMED_OUT,  # noqa: SLF001
        KafkaError._ALL_BROKERS_DOWN,  # noqa: SLF001
    )


def _topic_config(name: str, settings: Settings) -> dict[str, str]:
    config = {"max.message.bytes": str(max(settings.max_message_bytes + 100_000, 1_048_588))}
    if name.endswith("-changelog"):
        config["cleanup.policy"] = "compact"
    return config

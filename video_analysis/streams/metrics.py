"""Prometheus metrics of a worker process, served on ``--metrics-port`` (``VA_METRICS_PORT``).

Per role: items processed and seconds per item (by stage: split, analyze-<analyzer>, join),
failures by stage and code, consumer lag per topic, the real-time factor per analyzer (media
seconds per second of work) and, in the join, the videos in flight and the stuck ones healed.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

ITEMS = Counter(
    "video_analysis_items",
    "Items a worker processed: a video split, a part analysed, a join message.",
    ["role", "stage"],
)
ITEM_SECONDS = Histogram(
    "video_analysis_item_seconds",
    "Seconds one item took.",
    ["role", "stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
FAILURES = Counter(
    "video_analysis_failures",
    "Items that failed (dead-lettered), by stage and error code.",
    ["role", "stage", "code"],
)
REALTIME_FACTOR = Gauge(
    "video_analysis_realtime_factor",
    "Seconds of media an analyzer handles per second of work (last part).",
    ["analyzer"],
)
CONSUMER_LAG = Gauge(
    "video_analysis_consumer_lag",
    "Messages not yet consumed by this worker, per topic (summed over its partitions).",
    ["role", "topic"],
)
STORE_WAITS = Counter(
    "video_analysis_store_waits",
    "Failed tries of a write that waits for Redis or the database to come back.",
    ["write"],
)
RESULTS = Counter(
    "video_analysis_results",
    "Results the join published, by form: inline (whole), compact or summary (a claim check "
    "with result_ref), not_delivered.",
    ["form"],
)
HEALS = Counter(
    "video_analysis_heals",
    "Stuck videos the join published again as their next run (healed), and those it gave up "
    "on after VA_JOIN_HEAL_RUNS runs or without a kept upload to analyse again (given_up).",
    ["outcome"],
)
VIDEOS_IN_FLIGHT = Gauge(
    "video_analysis_videos_in_flight", "Videos the join holds parts of and has not finished."
)


def serve(port: int) -> None:
    """Serve ``/metrics`` on ``port`` (all interfaces: Prometheus scrapes from elsewhere)."""
    start_http_server(port)
    log.info("metrics on :%d/metrics", port)


def observe(role: str, stage: str, seconds: float, media_s: float | None = None) -> None:
    ITEMS.labels(role, stage).inc()
    ITEM_SECONDS.labels(role, stage).observe(seconds)
    if media_s is not None and seconds > 0 and stage.startswith("analyze-"):
        REALTIME_FACTOR.labels(stage.removeprefix("analyze-")).set(media_s / seconds)


def failed(role: str, stage: str, code: str) -> None:
    FAILURES.labels(role, stage, code).inc()


def record_lag(role: str, consumer: Any) -> None:
    """Lag per topic from the Faust consumer: highwater minus position, per partition."""
    lag: dict[str, int] = {}
    try:
        assignment = consumer.assignment()
    except Exception:  # noqa: BLE001 - not started or rebalancing: try again next time
        return
    for tp in assignment:
        try:
            high = consumer.highwater(tp)
            position = consumer._committed_offset.get(tp)  # noqa: SLF001 - Faust keeps it here
        except Exception:  # noqa: BLE001
            continue
        if high is None:
            continue
        done = position if position is not None else 0
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, int(high) - int(done))
    for topic, value in lag.items():
        CONSUMER_LAG.labels(role, topic).set(value)

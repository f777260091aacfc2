"""The Faust app of one worker role: its topics, and the agents the role runs.

Thin by design: parsing is pydantic, splitting is ``media.splitter``, analysis is
``analyzers``, the join's decisions are ``join``, the result is ``assemble``. The agents that
move messages and state around them are ``splitter_agent``, ``analyzer_agent`` and
``join_agent``; what they share (stores, topics, publish and reject) is ``wiring``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import faust

from ..analyzers.registry import validate_plan
from ..schemas import PartSource
from ..settings import Settings
from . import metrics
from .analyzer_agent import add_analyzer_agent, add_model_reports
from .flow import resume_in_order
from .join_agent import add_join
from .membership import leave_in_first_generation
from .names import ANALYZER_ROLES, JOIN_ROLES, Role, app_id_for_role
from .splitter_agent import add_splitter
from .topics import ALL_TOPICS, VIDEO_AUDIO, VIDEO_FRAMES
from .watchdog import Watchdog
from .wiring import Services, Wiring

log = logging.getLogger(__name__)

#: How often a worker updates its consumer-lag gauges and looks for stalled partitions.
LAG_INTERVAL_S = 15.0


def analyzers_for_role(settings: Settings, role: str, source: PartSource) -> list[str]:
    names = settings.frame_analyzers if source is PartSource.FRAMES else settings.audio_analyzers
    return list(names) if role == Role.ALL else [n for n in names if n == role]


def _buffer_options(settings: Settings, role: str) -> dict[str, Any]:
    """The analyzer roles' stream buffer, ``analysis_prefetch`` (frame batches and audio chunks
    are large: a small buffer bounds what a backlog holds in memory, at the cost the setting
    describes). The other roles' messages are small; they keep Faust's default."""
    if role in ANALYZER_ROLES:
        return {"stream_buffer_maxsize": settings.analysis_prefetch}
    return {}


def create_app(settings: Settings, role: str) -> tuple[faust.App, Watchdog]:
    """The role's app, and its watchdog (whose ``exit_code`` says why the worker stopped)."""
    validate_plan(settings.frame_analyzers, settings.audio_analyzers)
    resume_in_order()
    leave_in_first_generation()
    app = faust.App(
        app_id_for_role(settings, role),
        broker=settings.broker_url,
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=True,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_s,
        broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
        # Faust refuses a session timeout above the request timeout (40 s by default).
        broker_request_timeout=max(40.0, settings.broker_session_timeout_s + 10.0),
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=settings.max_message_bytes + 100_000,
        producer_max_batch_size=settings.producer_max_batch_bytes,
        # aiokafka compresses with cramjam (its lz4/zstd extras); "none" is Faust's None.
        producer_compression_type=None
        if settings.broker_compression == "none"
        else settings.broker_compression,
        producer_acks=-1,
        datadir=str(settings.data_dir / "faust" / app_id_for_role(settings, role)),
        web_enabled=False,
        **_buffer_options(settings, role),
    )
    services = Services(settings)

    @app.on_before_shutdown.connect
    async def _close_services(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await services.close()

    topics = {
        name: app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")
        for name in ALL_TOPICS
    }

    wiring = Wiring(app, settings, services, topics, role)
    watchdog = Watchdog(app, role, settings.worker_stall_s)

    @app.timer(interval=LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def report_lag() -> None:
        metrics.record_lag(role, app.consumer)
        await watchdog.tick(time.monotonic())

    if role in ANALYZER_ROLES or role == Role.ALL:
        add_model_reports(wiring, f"{role}@{socket.gethostname()}:{os.getpid()}")
    if role in (Role.SPLITTER, Role.ALL):
        add_splitter(wiring)
    for source, topic_name in ((PartSource.FRAMES, VIDEO_FRAMES), (PartSource.AUDIO, VIDEO_AUDIO)):
        names = analyzers_for_role(settings, role, source)
        if names and (role in ANALYZER_ROLES or role == Role.ALL):
            add_analyzer_agent(wiring, source, topic_name, names)
    if role in JOIN_ROLES:
        add_join(wiring)
    return app, watchdog

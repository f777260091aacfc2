"""``video-analysis dev`` (``make run``): the whole service on one machine.

The embedded broker, one process per worker role and the API, each restarted by
``supervise.Supervisor`` when it exits. When the broker dies its in-memory topics go with it:
it is started again, every worker with it, and the videos in flight are published again from
their kept uploads (``reconcile``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .settings import Settings
from .streams.names import DEV_ROLES, HEAVY_ROLES
from .supervise import FIRST_BACKOFF_S, Supervisor

#: How long the embedded broker may take to open its port.
BROKER_START_S = 30.0
#: The group timeouts of dev's workers, unless the environment sets them: a worker killed
#: (by a crash or by hand) hands its partitions on after 6 s, not 10, and the embedded
#: broker, which completes a group join half a session timeout after it began, lets a
#: worker that starts or restarts take up its partitions 3 s after it joined.
DEV_BROKER_TIMEOUTS = {"VA_BROKER_SESSION_TIMEOUT_S": "6"}


def dev_cpu_share(cores: int | None = None) -> int:
    """VA_CPU_THREADS for each worker of ``dev``: the machine's cores over the heavy roles."""
    return max(1, (cores or os.cpu_count() or 1) // len(HEAVY_ROLES))


def run_dev(settings: Settings) -> int:
    """Run the stack until Ctrl-C (or SIGTERM); 1 when the broker does not start."""
    from .streams.embedded import start_broker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = settings.dev_broker_port
    env = _environment(settings)
    dev_settings = settings.model_copy(update={"broker_url": env["VA_BROKER_URL"]})
    supervisor = Supervisor(_say)
    supervisor.add("broker", lambda: start_broker(port, log_path=settings.data_dir / "broker.log"))
    if not _broker_up(port):
        _say("the embedded broker did not start; see broker.log")
        supervisor.stop(last=set())
        return 1
    _catch_up(dev_settings)
    _add_processes(supervisor, settings, env)
    _say(
        f"broker 127.0.0.1:{port}, workers {', '.join(DEV_ROLES)}, "
        f"API http://127.0.0.1:{settings.api_port} — a role that exits is restarted; "
        "Ctrl-C stops all"
    )
    _watch(supervisor, port, dev_settings)
    # Workers and API together first (they flush and leave their groups), the broker last.
    supervisor.stop(last={"broker"})
    return 0


def _environment(settings: Settings) -> dict[str, str]:
    """The children's environment: the embedded broker, and an API key for this run."""
    from .streams.embedded import EMBEDDED_BROKER_ENV

    port = settings.dev_broker_port
    env = {
        **DEV_BROKER_TIMEOUTS,
        **os.environ,
        **EMBEDDED_BROKER_ENV,
        "VA_BROKER_URL": f"kafka://127.0.0.1:{port}",
    }
    if not settings.api_keys:
        # The API is never open, not even on a laptop: a key for this run, shown once.
        from .auth import SCOPES, new_key

        key, entry = new_key("dev", SCOPES)
        env["VA_API_KEYS"] = entry.entry
        sys.stderr.write(
            f"video-analysis dev: API key for this run (all scopes): {key}\n"
            f"  e.g. curl -H 'X-API-Key: {key}' http://127.0.0.1:{settings.api_port}/videos/ID\n"
        )
    return env


def _add_processes(supervisor: Supervisor, settings: Settings, env: dict[str, str]) -> None:
    """One process per worker role, then the API."""
    exe = [sys.executable, "-m", "video_analysis"]

    def launcher(
        command: list[str], extra: dict[str, str] | None = None
    ) -> Callable[[], subprocess.Popen[bytes]]:
        return lambda: subprocess.Popen(command, env={**env, **(extra or {})})

    # The heavy roles (face, pose, speech) each get an equal share of the cores, unless the
    # user sized them (VA_CPU_THREADS): one process's thread pools must not starve the others.
    share = {} if "VA_CPU_THREADS" in os.environ else {"VA_CPU_THREADS": str(dev_cpu_share())}
    for offset, role in enumerate(DEV_ROLES):
        ports = [
            "--web-port",
            str(settings.dev_web_port_base + offset),
            "--metrics-port",
            str(settings.dev_metrics_port_base + offset),
        ]
        # A worker is started again once its dead predecessor's session has expired: its
        # partitions are not handed on before that anyway, and the embedded broker was seen
        # to starve a member that joined while the dead one was still registered.
        supervisor.add(
            role,
            launcher([*exe, "worker", "--role", role, *ports], share),
            first_backoff_s=max(FIRST_BACKOFF_S, float(env["VA_BROKER_SESSION_TIMEOUT_S"])),
        )
    supervisor.add("api", launcher([*exe, "api"]))


def _watch(supervisor: Supervisor, port: int, settings: Settings) -> None:
    """Restart what exits until a signal says stop."""
    stopping = {"flag": False}

    def stop(*_: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping["flag"]:
        died = supervisor.poll()
        if any(child.name == "broker" for child in died):
            _say(
                "the broker's topics are gone with it: restarting it, creating its topics, "
                "then every worker, and publishing again what was in flight"
            )
            _restart_broker(supervisor, port, settings)
        time.sleep(0.5)


def _restart_broker(supervisor: Supervisor, port: int, settings: Settings) -> None:
    """The embedded broker kept its topics in memory: start it again, empty, and every worker
    with it (their groups start afresh), then publish again what was in flight.

    In that order: the workers are killed first (with the broker gone they can neither
    commit nor leave their groups; what they were doing is published again), since a worker
    that reconnects to the new broker has it create the topics it asks about, with the
    broker's default partition count, before ``ensure_topics`` could create them as the
    settings say; their sends then failed with ``UnknownError`` again and again. The topics
    are created before any worker or the reconcile publishes."""
    supervisor.kill_now(set(DEV_ROLES))
    supervisor.restart_now({"broker"})
    up = _broker_up(port)
    if up:
        _create_topics(settings)
    else:
        _say("the embedded broker did not start again; the workers wait for it")
    supervisor.restart_now(set(DEV_ROLES))
    if up:
        _catch_up(settings)


def _create_topics(settings: Settings) -> None:
    from .streams.admin import ensure_topics

    try:
        asyncio.run(ensure_topics(settings))
    except Exception as exc:  # noqa: BLE001 - the workers create them when they start
        _say(f"could not create the topics: {exc}")


def _broker_up(port: int) -> bool:
    from .streams.embedded import port_open

    deadline = time.monotonic() + BROKER_START_S
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _catch_up(settings: Settings) -> None:
    """The embedded broker starts empty: publish again (or fail) what was in flight."""
    from .connections import with_connections
    from .reconcile import reconcile

    try:
        done = asyncio.run(with_connections(settings, reconcile))
    except Exception as exc:  # noqa: BLE001 - dev goes on; the videos stay as they were
        _say(f"could not reconcile videos in flight: {exc}")
        return
    if done.republished or done.failed:
        _say(
            f"videos in flight when the broker's topics were lost: "
            f"{len(done.republished)} published again, {len(done.failed)} failed as "
            "interrupted (their upload is gone)"
        )


def _say(text: str) -> None:
    sys.stderr.write(f"video-analysis dev: {text}\n")
    sys.stderr.flush()

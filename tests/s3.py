"""A real S3 API server for tests: moto's standalone server in its own process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from video_analysis.streams.embedded import free_port, port_open
from video_analysis.supervise import stop_all

#: moto accepts any credentials; these only have to be consistent.
S3_ENV = {
    "VA_S3_REGION": "us-east-1",
    "VA_S3_ACCESS_KEY_ID": "testing",
    "VA_S3_SECRET_ACCESS_KEY": "testing",
}


@contextmanager
def s3_server(log_dir: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Start ``moto_server`` on a free port of ``host``; yield its endpoint URL."""
    port = free_port()
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if command is None:
        raise RuntimeError("moto_server is not installed: pip install 'moto[server]'")
    log = (log_dir / "moto.log").open("ab")
    process = subprocess.Popen(
        [command, "-H", host, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(host, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "moto_server did not start:\n" + (log_dir / "moto.log").read_text()
                )
            time.sleep(0.1)
        yield f"http://{host}:{port}"
    finally:
        stop_all([process], timeout_s=10)
        log.close()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_ENV["VA_S3_REGION"],
        aws_access_key_id=S3_ENV["VA_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["VA_S3_SECRET_ACCESS_KEY"],
    )


def object_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))

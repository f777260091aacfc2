from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pymysql
import pytest

from tests.stack import MYSQL_URL, REDIS_URL, Stack, embedded_broker, stack_env


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_broker(tmp_path_factory.mktemp("broker")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A database of its own on the local MariaDB; dropped afterwards."""
    url = urlparse(MYSQL_URL)
    name = f"va_e2e_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
    )
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"{MYSQL_URL.rstrip('/')}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def make_stack(broker: str, root: Path, mysql_url: str, **overrides: str) -> Stack:
    env = stack_env(broker, root, VA_DATABASE_URL=mysql_url, VA_REDIS_URL=REDIS_URL, **overrides)
    return Stack(bootstrap=broker, root=root, env=env)


@pytest.fixture(scope="module")
def stack(
    broker: str,
    mysql_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Every worker role as its own process, plus the API."""
    deployment = make_stack(broker, tmp_path_factory.mktemp("stack"), mysql_database)
    for role in ("splitter", "quality", "join"):
        deployment.start_worker(role)
    deployment.start_api()
    yield deployment
    deployment.stop()

"""Redis and MariaDB servers of a test's own, which it may stop and start again at will (the
shared ones on 6379 and 3306 serve every other test and are never touched)."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from video_analysis.streams.embedded import free_port, port_open
from video_analysis.supervise import stop_all

START_TIMEOUT_S = 60.0


@dataclass
class PrivateServer:
    """One server process on a free port; ``stop`` and ``start`` keep its data directory."""

    root: Path
    name: str = "server"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: The address it listens on (another than loopback for hosts in network namespaces).
    host: str = "127.0.0.1"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        log = open(self.root / f"{self.name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.host, self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} did not start:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            stop_all([self.process], timeout_s=30)
            self.process = None

    def log(self) -> str:
        path = self.root / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class PrivateRedis(PrivateServer):
    name: str = "redis"
    #: More of redis-server's options (``--requirepass``, ``--protected-mode no``).
    options: tuple[str, ...] = ()

    def command(self) -> list[str]:
        # Append-only, as compose runs it: what was written survives the restart.
        return [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.root),
            "--appendonly",
            "yes",
            "--save",
            "",
            *self.options,
        ]

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


@dataclass
class PrivateMariaDB(PrivateServer):
    name: str = "mariadb"
    database: str = "va"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def install(self) -> None:
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ],
            check=True,
            capture_output=True,
        )

    def command(self) -> list[str]:
        return [
            shutil.which("mariadbd") or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--socket={self.root / 'mariadb.sock'}",
            f"--pid-file={self.root / 'mariadb.pid'}",
            "--user=root",
            "--skip-grant-tables",
            "--innodb-buffer-pool-size=32M",
        ]

    def create_database(self) -> None:
        conn = pymysql.connect(host=self.host, port=self.port, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}` CHARSET utf8mb4")
        finally:
            conn.close()

    @property
    def url(self) -> str:
        return f"mysql://root:@{self.host}:{self.port}/{self.database}"

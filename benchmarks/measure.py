"""What the benchmarks share: a cold child process's wall time and peak memory, and the warm
service that ``video-analysis dev`` runs, with the memory of each of its processes and the
work its workers report in their metrics.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video_analysis.streams.embedded import free_port, port_open  # noqa: E402
from video_analysis.streams.names import DEV_ROLES  # noqa: E402


def analysed_parts(path: Path, settings: Any, video_id: str) -> tuple[Any, list[Any]]:
    """The manifest and the parts (``PartialResult``) of one in-process `analyze` of
    ``path``, as ``build_result`` receives them."""
    from video_analysis import pipeline

    captured: list[Any] = []
    build = pipeline.build_result

    def keep(manifest: Any, parts: Any, **kwargs: Any) -> Any:
        captured[:] = [manifest, list(parts)]
        return build(manifest, captured[1], **kwargs)

    pipeline.build_result = keep  # type: ignore[assignment]
    try:
        pipeline.analyze_file(path, settings, video_id=video_id)
    finally:
        pipeline.build_result = build
    return captured[0], captured[1]


def _own_env() -> dict[str, str]:
    """This environment without the caller's VA_ settings, but for the device to run on."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VA_") or k == "VA_DEVICE"}


def cold_env(work: Path) -> dict[str, str]:
    """The environment of a cold run: the service's own analyzer set, the installed models
    and a data folder in ``work``."""
    env = _own_env()
    env.update(
        VA_FRAME_ANALYZERS="quality,face,pose",
        VA_AUDIO_ANALYZERS="quality,speech",
        VA_MODELS_DIR=str(ROOT / "var" / "models"),
        VA_DATA_DIR=str(work / "var"),
    )
    return env


@dataclass(frozen=True)
class ColdRun:
    wall_s: float
    peak_rss_mib: float
    stdout: str


def cold_run(cmd: list[str], env: Mapping[str, str]) -> ColdRun:
    """Run ``cmd`` to its end: wall seconds, peak RSS (MiB, from ``wait4``) and stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(cmd, env=dict(env), stdout=out, stderr=err, cwd=ROOT)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{cmd[2:4]} failed:\n{err.read().decode()[-3000:]}")
        return ColdRun(wall, usage.ru_maxrss / 1024, out.read().decode())


def proc_status_mib(pid: int, field_name: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, MiB; NaN once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far; NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # utime and stime are fields 14 and 15 of stat(5), in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_by_name(parent: int) -> dict[str, int]:
    """The processes ``parent`` started, by name: a worker by its ``--role``, ``api``, and
    ``broker``."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        # Field 4 is the parent's PID; the command name (field 2) may hold spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
            continue
        if "--role" in argv:
            name = argv[argv.index("--role") + 1]
        elif "video_analysis" in argv and "api" in argv:
            name = "api"
        else:
            name = "broker"  # dev's one other child: the embedded broker's binary
        found[name] = int(entry.name)
    return found


@dataclass
class PeakMemory:
    """Samples the processes of a parent every ``every_s``: each one's peak RSS (``VmHWM``,
    kept across restarts as the largest seen), its CPU seconds (user and system, summed over
    restarts) and how often its PID changed."""

    parent: int
    every_s: float = 1.0
    peak_mib: dict[str, float] = field(default_factory=dict)
    now_mib: dict[str, float] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    _pids: dict[str, int] = field(default_factory=dict)
    #: CPU seconds of the processes a role had before its current one, and of the current.
    _cpu_before: dict[str, float] = field(default_factory=dict)
    _cpu_now: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for name, pid in children_by_name(self.parent).items():
            if self._pids.setdefault(name, pid) != pid:
                self._pids[name] = pid
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self._cpu_before[name] = self.cpu_s().get(name, 0.0)
                self._cpu_now[name] = 0.0
            hwm, rss = proc_status_mib(pid, "VmHWM"), proc_status_mib(pid, "VmRSS")
            if hwm == hwm:  # not NaN: the process was still there
                self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), hwm)
                self.now_mib[name] = rss
            cpu = proc_cpu_s(pid)
            if cpu == cpu:
                self._cpu_now[name] = cpu

    def reset_peaks(self) -> None:
        """Start each process's peak RSS again from its RSS now (``clear_refs`` 5 resets the
        kernel's ``VmHWM``), so that the next peak is of what comes after, in the same
        processes."""
        for name, pid in children_by_name(self.parent).items():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                continue
            self.peak_mib.pop(name, None)
        self.sample()

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds each role has used so far."""
        return {
            name: self._cpu_before.get(name, 0.0) + seconds
            for name, seconds in self._cpu_now.items()
        }

    def start(self) -> PeakMemory:
        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


_SAMPLE = re.compile(r'^video_analysis_item_seconds_(sum|count)\{role="([^"]*)",stage="([^"]*)"\}')


def stage_work(ports: Mapping[str, int]) -> dict[str, tuple[int, float]]:
    """Items and seconds of work per ``role/stage`` so far, from each worker's metrics."""
    work: dict[str, tuple[int, float]] = {}
    for port in ports.values():
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        except httpx.HTTPError:
            continue
        for line in text.splitlines():
            found = _SAMPLE.match(line)
            if found is None:
                continue
            kind, who, stage = found.groups()
            key = f"{who}/{stage}"
            count, seconds = work.get(key, (0, 0.0))
            value = float(line.rsplit(" ", 1)[1])
            work[key] = (int(value), seconds) if kind == "count" else (count, value)
    return work


def work_between(
    before: Mapping[str, tuple[int, float]], after: Mapping[str, tuple[int, float]]
) -> dict[str, tuple[int, float]]:
    return {
        key: (count - before.get(key, (0, 0.0))[0], seconds - before.get(key, (0, 0.0))[1])
        for key, (count, seconds) in sorted(after.items())
        if count > before.get(key, (0, 0.0))[0]
    }


def _free_run(length: int) -> int:
    """A port with the ``length - 1`` ports after it free too."""
    for _ in range(50):
        base = free_port()
        if base + length < 65536 and not any(
            port_open("127.0.0.1", base + k) for k in range(length)
        ):
            return base
    raise RuntimeError("no run of free ports found")


class DevService:
    """``video-analysis dev`` (what ``make run`` starts) in a work folder of its own, on
    ports of its own, with the API key it prints; ``stop`` ends it as Ctrl-C does."""

    def __init__(self, work: Path, env: Mapping[str, str] | None = None) -> None:
        self.work = work
        self.api_port = free_port()
        self.broker_port = free_port()
        self.metrics_base = _free_run(len(DEV_ROLES))
        # None of the caller's VA_ settings but the device: dev as `make run` runs it.
        self.env = dict(env) if env is not None else _own_env()
        self.env.pop("VA_API_KEYS", None)
        self.env.update(
            VA_DEV_BROKER_PORT=str(self.broker_port),
            VA_API_PORT=str(self.api_port),
            VA_DEV_WEB_PORT_BASE=str(_free_run(len(DEV_ROLES))),
            VA_DEV_METRICS_PORT_BASE=str(self.metrics_base),
            VA_DATA_DIR=str(work / "var"),
            VA_UPLOAD_ROOT=str(work / "var" / "uploads"),
            VA_MODELS_DIR=self.env.get("VA_MODELS_DIR", str(ROOT / "var" / "models")),
            PYTHONUNBUFFERED="1",
        )
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.log_path = work / "dev.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http: httpx.Client | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def metrics_ports(self) -> dict[str, int]:
        return {role: self.metrics_base + k for k, role in enumerate(DEV_ROLES)}

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def start(self, timeout_s: float = 180.0) -> DevService:
        self.work.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "video_analysis", "dev"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dev exited ({self.process.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dev not ready in {timeout_s:.0f} s:\n{self.log()}")
            time.sleep(1)
        key = re.search(r"API key for this run \(all scopes\): (va_\S+)", self.log(100_000))
        if key is None:
            raise RuntimeError(f"dev printed no API key:\n{self.log()}")
        self.http = httpx.Client(
            base_url=self.base, headers={"X-API-Key": key.group(1)}, timeout=120
        )
        return self

    def upload(self, path: Path, metadata: Mapping[str, Any] | None = None) -> str:
        """POST the file as the platform's HTTP shim takes it; the new video's id."""
        assert self.http is not None
        data = {"metadata": json.dumps(metadata)} if metadata else None
        with path.open("rb") as fh:
            answer = self.http.post(
                "/analyze-video", files={"file": (path.name, fh, "video/mp4")}, data=data
            )
        if answer.status_code != 202:
            raise RuntimeError(f"upload refused: {answer.status_code} {answer.text[:2000]}")
        video_id: str = answer.json()["video_id"]
        return video_id

    def wait(
        self, video_id: str, timeout_s: float, every_s: float = 2.0, say_every_s: float = 60.0
    ) -> dict[str, Any]:
        """Poll ``GET /videos/{id}`` until the video is final; its last status."""
        assert self.http is not None and self.process is not None
        deadline = time.monotonic() + timeout_s
        said = time.monotonic()
        while True:
            status: dict[str, Any] = self.http.get(f"/videos/{video_id}").json()
            if status.get("state") in ("complete", "partial", "failed"):
                return status
            if self.process.poll() is not None:
                raise RuntimeError(f"dev exited:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{video_id} not final in {timeout_s:.0f} s: {status}")
            if time.monotonic() - said >= say_every_s:
                said = time.monotonic()
                stages = ", ".join(f"{k} {v:.0%}" for k, v in status.get("stages", {}).items())
                print(f"  ... {status.get('state')} {stages}", flush=True)
            time.sleep(every_s)

    def stop(self) -> None:
        """SIGINT, as Ctrl-C: dev stops its workers and API, then the broker."""
        if self.http is not None:
            self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            for pid in children_by_name(self.process.pid).values():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> DevService:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

"""What ``video-analysis dev`` runs: the embedded broker, one process per worker role and the
API, each restarted with backoff when it exits unexpectedly instead of taking the rest down.

A worker that dies loses nothing: its uncommitted input is consumed again by its successor.
The embedded broker keeps topics in memory only, so when it dies what was in flight is gone:
it is restarted, the workers with it (their groups and topics start afresh), and every video
still ``queued`` or ``processing`` is published again from its kept upload, or finalised as
``failed`` with ``interrupted`` when the upload is gone (``reconcile``), so that nothing is
left hanging.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: First restart delay, doubled after each quick death, up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
#: A process that ran this long before dying is restarted after FIRST_BACKOFF_S again.
HEALTHY_AFTER_S = 60.0


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    #: The first restart's delay; doubled after each quick death.
    first_backoff_s: float = FIRST_BACKOFF_S
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Keeps children running; ``poll`` is called from the main loop every half second."""

    say: Callable[[str], None]
    children: list[Child] = field(default_factory=list)

    def add(
        self,
        name: str,
        start: Callable[[], subprocess.Popen[bytes]],
        *,
        first_backoff_s: float = FIRST_BACKOFF_S,
    ) -> Child:
        child = Child(
            name=name, start=start, first_backoff_s=first_backoff_s, backoff_s=first_backoff_s
        )
        child.process = start()
        child.started_at = time.monotonic()
        self.children.append(child)
        return child

    def poll(self, now: float | None = None) -> list[Child]:
        """Restart what is due; return the children that died since the last poll."""
        now = time.monotonic() if now is None else now
        died = []
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            died.append(child)
            if now - child.started_at >= HEALTHY_AFTER_S:
                child.backoff_s = child.first_backoff_s
            child.restart_at = now + child.backoff_s
            self.say(
                f"{child.name} exited ({child.process.returncode}); restarting in "
                f"{child.backoff_s:.0f} s"
            )
            child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
        return died

    def restart_now(self, names: set[str], now: float | None = None) -> None:
        """Stop these children (if running) and start them again at once."""
        now = time.monotonic() if now is None else now
        chosen = [c for c in self.children if c.name in names]
        stop_all([c.process for c in chosen if c.process is not None])
        for child in chosen:
            self._restart(child, now)

    def kill_now(self, names: set[str]) -> None:
        """SIGKILL these children and hold them (no restart) until :meth:`restart_now`."""
        chosen = [c for c in self.children if c.name in names]
        for child in chosen:
            if child.process is not None and child.process.poll() is None:
                child.process.kill()
        for child in chosen:
            if child.process is not None:
                child.process.wait()
            child.process = None
            child.restart_at = None

    def _restart(self, child: Child, now: float) -> None:
        child.process = child.start()
        child.started_at = now
        child.restart_at = None
        child.restarts += 1
        self.say(f"{child.name} restarted (restart {child.restarts})")

    def stop(self, last: set[str]) -> None:
        """Stop every child, those named in ``last`` after the others."""
        first = [c.process for c in self.children if c.name not in last and c.process]
        stop_all(first)
        stop_all([c.process for c in self.children if c.name in last and c.process])


def stop_all(processes: list[subprocess.Popen[bytes]], timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL what has not exited within ``timeout_s``."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

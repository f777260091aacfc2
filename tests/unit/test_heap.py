"""The join's and the API's heap: large blocks mapped on their own, small objects on glibc's
malloc, free pages given back (``heap.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from video_analysis import cli, heap

# A fresh process (the threshold is process-wide and glibc raises it on the first large
# block freed): a 1 MiB block freed, then where a 512 KiB block comes from, by mallinfo2.
PROBE = textwrap.dedent(
    """
    import ctypes, json, sys
    from video_analysis import heap

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        ).split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    fixed = heap.return_large_blocks() if sys.argv[1] == "fixed" else False
    libc.free(libc.malloc(1 << 20))
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(512 << 10)
    mapped = libc.mallinfo2().hblkhd - before
    libc.free(block)
    print(json.dumps({"fixed": fixed, "mapped": mapped}))
    """
)


def _python(code: str, *args: str, unset: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter with ``args``, in this environment without the
    variable ``unset`` and with ``env``."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**{k: v for k, v in os.environ.items() if k != unset}, **env},
    )


def _probe(mode: str, **env: str) -> dict[str, object]:
    answer: dict[str, object] = json.loads(
        _python(PROBE, mode, unset="MALLOC_MMAP_THRESHOLD_", **env).stdout
    )
    return answer


needs_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's malloc only",
)


@needs_glibc
def test_a_large_block_is_mapped_on_its_own_after_a_larger_one_was_freed() -> None:
    # glibc's own rule: the freed 1 MiB block raised the threshold, the next one is heap.
    assert _probe("default") == {"fixed": False, "mapped": 0}
    # Fixed: mapped alone, so freeing it gives its memory back at once.
    fixed = _probe("fixed")
    assert fixed["fixed"] is True
    assert isinstance(fixed["mapped"], int) and fixed["mapped"] >= 512 << 10


@needs_glibc
def test_the_environments_own_threshold_is_left_as_it_is() -> None:
    answer = _probe("fixed", MALLOC_MMAP_THRESHOLD_=str(4 << 20))
    assert answer["fixed"] is False and answer["mapped"] == 0


# 40 MiB of small blocks freed under one still in use at the heap's top: glibc keeps the
# pages until trimmed.
TRIM = textwrap.dedent(
    """
    import ctypes, json
    from video_analysis import heap

    def anon_kib():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(2048) for _ in range(20_000)]
    for block in blocks:
        ctypes.memset(block, 1, 2048)
    for block in blocks[:-1]:
        libc.free(block)
    held = anon_kib()
    trimmed = heap.trim()
    print(json.dumps({"trimmed": trimmed, "freed_kib": held - anon_kib()}))
    """
)


@needs_glibc
def test_trim_gives_the_heaps_free_pages_back() -> None:
    answer = json.loads(_python(TRIM).stdout)
    assert answer["trimmed"] is True
    assert answer["freed_kib"] > 30 * 1024


# Small Python objects, one in every 200 kept (as a build leaves its caches among what it
# let go): how much of the rest the process gives back after heap.trim, and on which allocator.
PINNED = textwrap.dedent(
    """
    import json, os, sys
    from video_analysis import heap

    if sys.argv[1] == "system":
        heap.run_on_system_malloc()

    def anon_kib():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

    before = anon_kib()
    objects = [[float(k)] for k in range(400_000)]
    kept = objects[::200]
    held = anon_kib()
    del objects
    heap.trim()
    print(json.dumps({
        "allocator": os.environ.get("PYTHONMALLOC"),
        "pid": os.getpid(),
        "given_back": (held - anon_kib()) / max(1, held - before),
    }))
    """
)


def _pinned(mode: str, **env: str) -> dict[str, object]:
    process = subprocess.Popen(
        [sys.executable, "-c", PINNED, mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}, **env},
    )
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    answer: dict[str, object] = json.loads(out)
    # Started again in place: the same process, as its supervisor knows it.
    assert answer.pop("pid") == process.pid
    return answer


@needs_glibc
def test_on_the_system_malloc_what_a_build_let_go_goes_back_despite_what_it_kept() -> None:
    pymalloc = _pinned("default")
    system = _pinned("system")
    assert pymalloc["allocator"] is None and system["allocator"] == heap.SYSTEM_MALLOC
    # pymalloc's 1 MiB arenas stay while one object in them lives; malloc's free pages go.
    assert isinstance(pymalloc["given_back"], float) and pymalloc["given_back"] < 0.2
    assert isinstance(system["given_back"], float) and system["given_back"] > 0.6


@needs_glibc
def test_an_allocator_the_environment_chose_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _pinned("system", PYTHONMALLOC="pymalloc")["allocator"] == "pymalloc"
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    assert heap.system_malloc_argv() == [sys.executable, *sys.orig_argv[1:]]
    monkeypatch.setenv("PYTHONMALLOC", "pymalloc")
    assert heap.system_malloc_argv() is None


@pytest.mark.parametrize(
    ("argv", "again"),
    [
        (["api"], True),
        (["worker", "--role", "join"], True),
        (["worker", "--role", "speech"], False),
        (["worker"], False),
        (["models", "status"], False),
    ],
)
def test_the_join_and_the_api_start_again_on_the_system_malloc(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], again: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(sys, "argv", ["video-analysis", *argv])
    monkeypatch.setattr(heap, "hold_whole_results", lambda: calls.append("again"))
    monkeypatch.setattr(cli, "_dispatch", lambda args: 0)
    with pytest.raises(SystemExit):
        cli.run()
    assert calls == (["again"] if again else [])


# Four threads that allocate at once: how many arenas glibc's malloc_stats lists.
ARENAS = textwrap.dedent(
    """
    import ctypes, sys, threading
    from video_analysis import heap

    if sys.argv[1] == "one":
        heap.one_arena()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    start = threading.Barrier(4)

    def allocate():
        start.wait()
        blocks = [libc.malloc(4096) for _ in range(2000)]
        for block in blocks:
            libc.free(block)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc.malloc_stats()
    """
)


def _arenas(mode: str, **env: str) -> int:
    stats = _python(ARENAS, mode, unset="MALLOC_ARENA_MAX", **env).stderr
    return sum(1 for line in stats.splitlines() if line.startswith("Arena "))


@needs_glibc
def test_the_threads_of_the_join_and_the_api_share_one_arena() -> None:
    assert _arenas("default") > 1
    assert _arenas("one") == 1
    # An operator's own number is kept.
    assert _arenas("one", MALLOC_ARENA_MAX="4") > 1

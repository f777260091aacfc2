"""The join's and the API's C heap: large blocks mapped on their own (``heap.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

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


def _probe(mode: str, **env: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**{k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}, **env},
    )
    answer: dict[str, object] = json.loads(run.stdout)
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
    run = subprocess.run([sys.executable, "-c", TRIM], capture_output=True, text=True, check=True)
    answer = json.loads(run.stdout)
    assert answer["trimmed"] is True
    assert answer["freed_kib"] > 30 * 1024

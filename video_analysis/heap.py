"""The heap of the processes that hold whole results (the join, the API).

An hour's result passes through these processes as blocks of megabytes (its JSON, its
stored copy, the parts' texts) among hundreds of thousands of small objects that outlive
them. glibc's malloc raises the size from which it maps a block on its own each time such a
block is freed (up to 32 MiB), so later ones come from the heap, where the small objects
allocated around them keep the heap from shrinking: the join kept 40 to 50 MiB more after an
hour's video than after half an hour's (``benchmarks/join_service.py``). With the size fixed,
every large block is mapped alone and returned whole when freed.

Python's own allocator (pymalloc) keeps small objects in arenas of 1 MiB that go back to the
system only once every object in them is gone; a few hundred objects that outlive a video
(caches filled during its build) kept the arenas of its peak: the join held 18 MiB more
after a half hour's video and 30 MiB after an hour's (``benchmarks/join_service.py``), and the
next video's peak started from there. These processes run their objects on glibc's malloc
instead (``PYTHONMALLOC=malloc``), whose free pages :func:`trim` gives back after each video,
in one arena: glibc gives each thread that allocates an arena of its own (up to 8 a core), and
the API's report drawn in one thread beside the result read in another took 18 MiB more at an
hour.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameters (malloc.h): the size from which blocks are mapped alone,
#: the number of arenas.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: glibc's default mmap threshold, kept fixed: blocks from 128 KiB up are mapped alone.
LARGE_BLOCK_BYTES = 128 * 1024
#: What ``PYTHONMALLOC`` is set to for the processes that hold whole results.
SYSTEM_MALLOC = "malloc"


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def return_large_blocks() -> bool:
    """Map every block of ``LARGE_BLOCK_BYTES`` or more on its own, for the rest of the
    process; True when done. Not done on a C library without glibc's ``mallopt`` nor when
    the environment sets the size itself (``MALLOC_MMAP_THRESHOLD_``)."""
    return _mallopt("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)


def _mallopt(variable: str, parameter: int, value: int) -> bool:
    """glibc's ``mallopt(parameter, value)`` unless the environment's ``variable`` (the same
    setting, read as the process starts) says otherwise; True when set."""
    if variable in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None or not mallopt(parameter, value):
        log.debug("malloc's %s left as it is (no glibc mallopt)", variable)
        return False
    return True


def one_arena() -> bool:
    """Every thread's blocks from one arena, for the rest of the process; True when done.
    Not done without glibc's ``mallopt`` nor when the environment sets the number itself
    (``MALLOC_ARENA_MAX``)."""
    return _mallopt("MALLOC_ARENA_MAX", M_ARENA_MAX, 1)


def trim() -> bool:
    """Free what only cycles still hold (a chart's figure and its artists), then give the
    heap's free pages back to the system (glibc's ``malloc_trim``): after a video, what its
    build or its report took stops counting in the process's memory. True when some were."""
    gc.collect()
    libc = _libc()
    malloc_trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    return bool(malloc_trim(0)) if malloc_trim is not None else False


def system_malloc_argv() -> list[str] | None:
    """The command line to start this process again on glibc's malloc (``PYTHONMALLOC``),
    or None when it runs on it already, or the environment chose an allocator itself, or
    there is no glibc to trim (``PYTHONMALLOC`` is read only as the interpreter starts)."""
    libc = _libc()
    if "PYTHONMALLOC" in os.environ or libc is None or not hasattr(libc, "malloc_trim"):
        return None
    return [sys.executable, *sys.orig_argv[1:]]


def hold_whole_results() -> None:
    """Set this process up as one that holds whole results (the join, the API): started again
    on glibc's malloc, large blocks mapped alone, every thread on one arena. Call before any
    thread starts."""
    run_on_system_malloc()
    return_large_blocks()
    one_arena()


def run_on_system_malloc() -> None:
    """Start this process again, in place (same pid), on glibc's malloc, unless
    :func:`system_malloc_argv` says there is no need; call before any thread starts."""
    argv = system_malloc_argv()
    if argv is not None:
        os.execve(argv[0], argv, {**os.environ, "PYTHONMALLOC": SYSTEM_MALLOC})

"""The C heap of the processes that hold whole results (the join, the API).

An hour's result passes through these processes as blocks of megabytes (its JSON, its
stored copy, the parts' texts) among hundreds of thousands of small objects that outlive
them. glibc's malloc raises the size from which it maps a block on its own each time such a
block is freed (up to 32 MiB), so later ones come from the heap, where the small objects
allocated around them keep the heap from shrinking: the join kept 40 to 50 MiB more after an
hour's video than after half an hour's (``benchmarks/join_service.py``). With the size fixed,
every large block is mapped alone and returned whole when freed.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter for that size (malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's default for it, kept fixed: blocks from 128 KiB up are mapped on their own.
LARGE_BLOCK_BYTES = 128 * 1024


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def return_large_blocks() -> bool:
    """Map every block of ``LARGE_BLOCK_BYTES`` or more on its own, for the rest of the
    process; True when done. Not done on a C library without glibc's ``mallopt`` nor when
    the environment sets the size itself (``MALLOC_MMAP_THRESHOLD_``)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES):
        log.debug("malloc's mmap threshold left as it is (no glibc mallopt)")
        return False
    return True


def trim() -> bool:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``): after a
    video, what its build freed stops counting in the process's memory. True when some were."""
    libc = _libc()
    malloc_trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    return bool(malloc_trim(0)) if malloc_trim is not None else False

"""One numeric path for numpy's and SciPy's BLAS on every x86-64 host.

OpenBLAS picks its kernels from the CPU it runs on: on a CPU with AVX-512 (AMD Zen 4, Intel
since Skylake-SP) it multiplies matrices with other kernels than on an AVX2 one, and their
sums differ in the last bits. The speech features (the log-mel spectrogram) are such products,
and greedy decoding turns a last-bit difference into another word where two are close: the
same real recording was transcribed "... java thing about if you if you actually" on one host
and "... Java thing about if you effectively" on another, and a one-word Korean answer's
language flipped. Every threshold here was calibrated with the AVX2 kernels, and a service whose
workers run on several hosts must give a video the same result on any of them; so where the
CPU has AVX2 and FMA, OpenBLAS is told to use its Haswell (AVX2) kernels.

Intel MKL (inside CTranslate2, which runs Whisper) also takes another path on an Intel CPU
with AVX-512, and the one-word English answer "Lay" scored English at 0.940 there against
0.975 with ``MKL_ENABLE_INSTRUCTIONS=AVX2``; but that path is its int8 matrix products with
AVX-512, and the speech stage ran 16.1-17.1 s on it against 22.1-23.3 s pinned to AVX2
(``benchmarks/speech.py``, 270 s of AMI): MKL is left to choose. So a score that sits within
a few hundredths of a threshold can fall either side of it by host (``speech/language.py``
says so of a one-word answer's language).

It has to be set before OpenBLAS is loaded (numpy's first import): ``video_analysis``'s
``__init__`` calls :func:`pin_blas_kernels`, so every entry point (the CLI, the workers, the
API, the tests) and every process they start gets it. A value the environment already sets
(``OPENBLAS_CORETYPE``) is kept.
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping

#: OpenBLAS's name of its AVX2 + FMA kernels.
AVX2_CORE = "Haswell"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def pin_blas_kernels(
    environ: MutableMapping[str, str] | None = None,
    *,
    machine: str | None = None,
    flags: frozenset[str] | None = None,
) -> str | None:
    """Set ``OPENBLAS_CORETYPE`` to the AVX2 kernels in ``environ`` (the process's) on an
    x86-64 CPU that has AVX2 and FMA, unless it is set; the core set, else None."""
    environ = os.environ if environ is None else environ
    if "OPENBLAS_CORETYPE" in environ:
        return None
    if (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return None
    if not {"avx2", "fma"} <= (cpu_flags() if flags is None else flags):
        return None
    environ["OPENBLAS_CORETYPE"] = AVX2_CORE
    return AVX2_CORE

"""The same BLAS kernels on every x86-64 host (``numerics.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from video_analysis.numerics import AVX2_CORE, cpu_flags, pin_blas_kernels

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})


def test_an_avx2_x86_64_cpu_gets_the_avx2_kernels() -> None:
    env: dict[str, str] = {}
    assert pin_blas_kernels(env, machine="x86_64", flags=AVX2 | {"avx512f"}) == AVX2_CORE
    assert env == {"OPENBLAS_CORETYPE": "Haswell"}


@pytest.mark.parametrize(
    ("env", "machine", "flags"),
    [
        ({"OPENBLAS_CORETYPE": "Zen"}, "x86_64", AVX2),  # the operator's choice stays
        ({}, "aarch64", frozenset({"asimd"})),  # no such kernels there
        ({}, "x86_64", frozenset({"sse4_2", "avx"})),  # they would not run there
    ],
)
def test_other_hosts_are_left_as_they_are(
    env: dict[str, str], machine: str, flags: frozenset[str]
) -> None:
    before = dict(env)
    assert pin_blas_kernels(env, machine=machine, flags=flags) is None
    assert env == before


@pytest.mark.skipif(not {"avx2", "fma"} <= cpu_flags(), reason="an x86-64 CPU with AVX2")
def test_numpy_imported_after_the_package_runs_the_avx2_kernels() -> None:
    code = (
        "import json, video_analysis, numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "print(json.dumps([i.get('architecture') for i in threadpool_info()"
        " if i.get('internal_api') == 'openblas']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(run.stdout) == [AVX2_CORE]

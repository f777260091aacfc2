"""One setting sizes a worker's threads, one its prefetch; dev shares the machine's cores
among its roles."""

from __future__ import annotations

import os

from video_analysis.dev import dev_cpu_share
from video_analysis.settings import Settings


def test_the_analysis_pool_follows_the_cpu_share_unless_set() -> None:
    assert Settings().analysis_threads == 2
    assert Settings(cpu_threads=1).analysis_threads == 1
    assert Settings(cpu_threads=8).analysis_threads == 2
    assert Settings(cpu_threads=1, worker_threads=3).analysis_threads == 3


def test_cores_are_the_share_or_the_machines() -> None:
    assert Settings(cpu_threads=3).cores == 3
    assert Settings().cores == (os.cpu_count() or 1)


def test_dev_gives_each_heavy_role_an_equal_share_and_at_least_one_core() -> None:
    assert [dev_cpu_share(n) for n in (1, 2, 3, 8, 16)] == [1, 1, 1, 2, 5]


def test_the_device_setting_picks_the_gpu_only_where_there_is_one() -> None:
    import pytest

    from video_analysis.errors import ModelNotAvailable
    from video_analysis.models.runtime import pick_device

    assert pick_device("auto", gpu_present=True, runtime="CTranslate2") == "cuda"
    assert pick_device("auto", gpu_present=False, runtime="CTranslate2") == "cpu"
    assert pick_device("cpu", gpu_present=True, runtime="CTranslate2") == "cpu"
    assert pick_device("cuda", gpu_present=True, runtime="CTranslate2") == "cuda"
    with pytest.raises(ModelNotAvailable, match="VA_DEVICE=cuda, but CTranslate2"):
        pick_device("cuda", gpu_present=False, runtime="CTranslate2")


def test_the_speech_model_has_a_worker_per_chunk_at_once_sharing_the_cores() -> None:
    from video_analysis.analyzers.speech.analyzer import model_workers

    assert model_workers(Settings(cpu_threads=2)) == (2, 1)
    assert model_workers(Settings(cpu_threads=1)) == (1, 1)
    assert model_workers(Settings(cpu_threads=8)) == (2, 4)
    assert model_workers(Settings(cpu_threads=8, worker_threads=4)) == (4, 2)
    assert model_workers(Settings(cpu_threads=8, speech_cpu_threads=3)) == (2, 3)


def test_analyzer_workers_prefetch_as_set_and_the_other_roles_keep_fausts_buffer() -> None:
    """A long video's frames reach the pose worker faster than it analyses them: with Faust's
    default buffer (4096 messages of up to ~1 MB) the backlog piles up in its memory, so an
    operator may bound the analyzers' buffer."""
    from video_analysis.streams.app import create_app

    settings = Settings(analysis_prefetch=8, topic_prefix="sizing-")
    for role in ("quality", "face", "pose", "speech"):
        app, _ = create_app(settings, role)
        assert app.conf.stream_buffer_maxsize == 8, role
    for role in ("splitter", "join"):
        app, _ = create_app(settings, role)
        # Small messages; the join's table recovery reads its changelog through this buffer.
        assert app.conf.stream_buffer_maxsize == 4096, role

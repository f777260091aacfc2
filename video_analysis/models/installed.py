"""What is installed, and where: ``models status``, ``/models/status``, and the lookups the
analyzers make (:func:`model_path`, :func:`model_info`). An installed model is checked against
its ``manifest.json`` (sizes; full checksums with ``verify``)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import ModelNotAvailable
from ..schemas import ModelInfo
from ..schemas.api import ModelStatus
from ..settings import Settings
from .catalogue import (
    INSTALL_COMMAND,
    INSTALL_HINT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    MODEL_SPECS,
    ModelSpec,
    file_sha256,
    locate,
    record_entry,
    select_specs,
    source_record,
)
from .loaded import load_record

logger = logging.getLogger(__name__)


def status(
    settings: Settings,
    verify: bool = False,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
) -> list[ModelStatus]:
    """Status of every model; ``verify`` recomputes full checksums (slow: reads every file)."""
    table = MODEL_SPECS if specs is None else specs
    models_dir = Path(settings.models_dir)
    return [status_one(spec, models_dir, verify=verify) for spec in table.values()]


def model_path(
    settings: Settings, name: str, *, specs: Mapping[str, ModelSpec] | None = None
) -> Path:
    """Directory holding ``name``'s installed weights; raises ModelNotAvailable when absent.

    For a model used in place (``in_package``) it is the directory its package is installed
    in: each file is at ``model_path(...) / part.path``.
    """
    table = MODEL_SPECS if specs is None else specs
    (spec,) = select_specs(table, [name])
    if spec.builtin:
        raise ModelNotAvailable(f"model {name!r} is built in and has no weights directory")
    if spec.in_package:
        root, problem, _ = check_in_package(spec, verify=False)
        if root is None or problem is not None:
            raise ModelNotAvailable(f"model {name!r} is not available: {problem}")
        return root
    target = Path(settings.models_dir) / spec.dirname
    problem = check_installed(spec, target, verify=False)[1]
    if problem is not None:
        raise ModelNotAvailable(f"model {name!r} is not available: {problem}")
    return target


def model_info(
    settings: Settings, name: str, *, specs: Mapping[str, ModelSpec] | None = None
) -> ModelInfo:
    """What a result's ``models`` list says about ``name`` (checksum from the manifest)."""
    table = MODEL_SPECS if specs is None else specs
    (spec,) = select_specs(table, [name])
    sha256 = None
    if spec.in_package:
        sha256 = check_in_package(spec, verify=False)[2]
    elif not spec.builtin:
        manifest = read_manifest(Path(settings.models_dir) / spec.dirname)
        sha256 = main_sha256(spec, manifest) if manifest else None
    return ModelInfo(analyzer=spec.analyzer, name=spec.name, version=spec.version, sha256=sha256)


def read_manifest(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main_sha256(spec: ModelSpec, manifest: Mapping[str, Any]) -> str | None:
    for entry in manifest.get("files", []):
        if entry.get("name") == spec.main_file:
            value = entry.get("sha256")
            return str(value) if value is not None else None
    return None


def check_installed(spec: ModelSpec, target: Path, *, verify: bool) -> tuple[bool, str | None]:
    """(ok, problem): does ``target`` hold what ``spec`` describes?

    Without ``verify`` this compares the manifest with the spec and the files' sizes, which is
    instant; with ``verify`` it also rehashes every file.
    """
    hint = f"run `{INSTALL_COMMAND}`"
    manifest = read_manifest(target)
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
        or any(manifest.get(key) != value for key, value in source_record(spec).items())
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


def check_in_package(
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
            path = locate(part, spec)
        except ModelNotAvailable as exc:
            return None, exc.message, None
        recorded = record_entry(part)
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


def _packages_missing(spec: ModelSpec) -> list[str]:
    missing = []
    for package in spec.packages:
        try:
            if metadata.version(package.distribution) != package.version:
                missing.append(str(package))
        except metadata.PackageNotFoundError:
            missing.append(str(package))
    return missing


def status_one(spec: ModelSpec, models_dir: Path, *, verify: bool) -> ModelStatus:
    record = load_record(spec.name)
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
        root, problem, sha256 = check_in_package(spec, verify=verify)
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
    ok, problem = check_installed(spec, target, verify=verify)
    manifest = read_manifest(target) if ok else None
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
        sha256=main_sha256(spec, manifest) if manifest else None,
        verified=ok,
        installed_at=installed_at,
        loaded=record is not None,
        load_time_s=record.load_time_s if record else None,
        device=record.device if record else None,
        error=problem,
    )

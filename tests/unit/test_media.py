"""The report's player: the signed link to a kept video, byte ranges, expiry and refusals."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from tests.media_factory import make_clip
from tests.unit.test_api import FakePublisher, components, keyed, make_client
from video_analysis.api import create_app
from video_analysis.api.media import MediaLinks, byte_range
from video_analysis.errors import MediaLinkRefused, RangeNotSatisfiable
from video_analysis.schemas import AnalysisResult, ResultStatus
from video_analysis.settings import Settings

SECRET = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media") / "answer.mp4", duration=2.0, size=(160, 120))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        upload_root=tmp_path / "uploads",
        models_dir=tmp_path / "models",
        media_url_secret=SecretStr(SECRET),
        media_url_ttl_s=600,
    )


@pytest.fixture
def keys(settings: Settings) -> tuple[Settings, dict[str, str]]:
    return keyed(settings, ("platform", "submit+read+delete"))


@pytest.fixture
def client(keys: tuple[Settings, dict[str, str]]) -> Iterator[TestClient]:
    with make_client(keys[0], FakePublisher()) as client:
        yield client


def submitted(client: TestClient, key: str, clip: Path, video_id: str) -> str:
    """Upload ``clip`` as ``video_id``, store a finished result for it; the report's link."""
    with clip.open("rb") as fh:
        answer = client.post(
            "/analyze-video",
            files={"file": ("answer.mp4", fh, "video/mp4")},
            data={"video_id": video_id},
            headers={"X-API-Key": key},
        )
    assert answer.status_code == 202, answer.json()
    results = components(client).results
    result = AnalysisResult(video_id=video_id, status=ResultStatus.COMPLETE)
    result.media.duration_s = 2.0
    client.portal.call(results.save_result, result)  # type: ignore[union-attr]
    page = client.get(f"/videos/{video_id}/report", headers={"X-API-Key": key})
    assert page.status_code == 200
    assert key not in page.text  # the page never carries the key
    found = re.search(r'<video id="recording"[^>]* src="([^"]+)"', page.text)
    assert found is not None, "the served report has no player"
    src = html.unescape(found.group(1))
    assert src.startswith("media?")  # relative: /videos/{id}/media behind any prefix
    return f"/videos/{video_id}/{src}"


def test_the_served_report_plays_the_video_in_byte_ranges_without_a_key(
    client: TestClient, keys: tuple[Settings, dict[str, str]], clip: Path
) -> None:
    link = submitted(client, keys[1]["platform"], clip, "v1")
    body = clip.read_bytes()

    part = client.get(link, headers={"Range": "bytes=100-1099"})
    tail = client.get(link, headers={"Range": "bytes=-200"})
    whole = client.get(link)

    assert part.status_code == 206
    assert part.content == body[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(body)}"
    assert part.headers["content-length"] == "1000"
    assert part.headers["content-type"] == "video/mp4"
    assert part.headers["accept-ranges"] == "bytes"
    assert part.headers["cache-control"] == "private"
    assert part.headers["x-content-type-options"] == "nosniff"
    assert tail.status_code == 206 and tail.content == body[-200:]
    assert whole.status_code == 200 and whole.content == body


def test_a_range_past_the_end_is_416_with_the_size(
    client: TestClient, keys: tuple[Settings, dict[str, str]], clip: Path
) -> None:
    link = submitted(client, keys[1]["platform"], clip, "v2")
    size = clip.stat().st_size

    answer = client.get(link, headers={"Range": f"bytes={size}-"})

    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{size}"
    assert answer.json()["error"]["code"] == "range_not_satisfiable"


def test_an_expired_link_is_refused(
    client: TestClient, keys: tuple[Settings, dict[str, str]], clip: Path
) -> None:
    submitted(client, keys[1]["platform"], clip, "v3")
    links: MediaLinks = components(client).links
    old = links.sign("v3", time.time() - links.lifetime_s - 5)

    answer = client.get(f"/videos/v3/media?{old.query}", headers={"Range": "bytes=0-99"})

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "media_link_expired"
    assert "reload" in answer.json()["error"]["message"]


def test_an_altered_link_or_another_videos_link_is_refused(
    client: TestClient, keys: tuple[Settings, dict[str, str]], clip: Path
) -> None:
    link = submitted(client, keys[1]["platform"], clip, "v4")
    other = submitted(client, keys[1]["platform"], clip, "v5")
    exp = re.search(r"exp=(\d+)", link)
    sig = re.search(r"sig=([^&]+)", link)
    assert exp is not None and sig is not None
    flipped = sig.group(1)[:-1] + ("A" if sig.group(1)[-1] != "A" else "B")

    tries = {
        "signature changed": link.replace(sig.group(1), flipped),
        "expiry pushed back": link.replace(exp.group(0), f"exp={int(exp.group(1)) + 3600}"),
        "another video's link": other.replace("/videos/v5/", "/videos/v4/"),
        "no signature": "/videos/v4/media?exp=" + exp.group(1),
        "nothing": "/videos/v4/media",
        "not a number": link.replace(exp.group(0), "exp=soon"),
    }
    for why, path in tries.items():
        answer = client.get(path)
        assert answer.status_code == 403, why
        assert answer.json() == {
            "error": {
                "code": "invalid_media_link",
                "message": "this link to the video is not one the service made",
            }
        }, why
    assert client.get(link, headers={"Range": "bytes=0-9"}).status_code == 206


def test_a_deleted_video_or_one_no_longer_kept_is_gone(
    client: TestClient, keys: tuple[Settings, dict[str, str]], clip: Path, settings: Settings
) -> None:
    key = {"X-API-Key": keys[1]["platform"]}
    deleted = submitted(client, key["X-API-Key"], clip, "v6")
    expired = submitted(client, key["X-API-Key"], clip, "v7")
    links: MediaLinks = components(client).links

    assert client.delete("/videos/v6", headers=key).status_code == 200
    # Retention removes the upload and leaves the result: the report stays, without a player.
    for path in (settings.upload_root / "v7").iterdir():
        if path.suffix == ".mp4":
            path.unlink()
    page = client.get("/videos/v7/report", headers=key)
    ghost = client.get(f"/videos/ghost/media?{links.sign('ghost', time.time()).query}")

    assert client.get(deleted).status_code == 410
    assert client.get(deleted).json()["error"]["code"] == "deleted"
    assert client.get(expired).status_code == 410
    assert client.get(expired).json()["error"]["code"] == "upload_gone"
    assert page.status_code == 200 and '<video id="recording"' not in page.text
    assert 'id="no-recording"' in page.text
    assert ghost.status_code == 404 and ghost.json()["error"]["code"] == "unknown_video"


def test_replicas_with_one_secret_open_each_others_links(settings: Settings) -> None:
    one, two = MediaLinks.from_settings(settings), MediaLinks.from_settings(settings)
    link = one.sign("v1", now=1_000.0)
    exp, sig = (part.split("=", 1)[1] for part in link.query.split("&"))

    two.check("v1", exp, sig, now=1_000.0 + 599)
    assert link.expires_at == datetime.fromtimestamp(1_600, UTC)
    # Without a secret (development), each process signs with its own random key.
    unset = Settings(**{**settings.model_dump(), "media_url_secret": None})
    with pytest.raises(MediaLinkRefused, match="not one the service made"):
        MediaLinks.from_settings(unset).check("v1", exp, sig, now=1_000.0)


def test_production_needs_a_real_media_url_secret(settings: Settings) -> None:
    production, _ = keyed(settings, ("platform", "read"))
    base = {**production.model_dump(), "environment": "production"}

    with pytest.raises(ValueError, match="VA_MEDIA_URL_SECRET"):
        create_app(Settings(**{**base, "media_url_secret": None}), publisher=FakePublisher())
    for weak in ("changeme", "short-but-random-9f2c"):
        with pytest.raises(ValidationError, match="media_url_secret"):
            Settings(**{**base, "media_url_secret": weak})


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        (None, None),
        ("bytes=0-", (0, 999)),
        ("bytes=10-19", (10, 19)),
        ("bytes=990-5000", (990, 999)),  # past the end: up to the end
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=0-9,20-29", None),  # several ranges: the whole file
        ("items=0-9", None),
        ("bytes=19-10", None),  # invalid: ignored
    ],
)
def test_byte_ranges(header: str | None, wanted: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == wanted


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_byte_ranges_past_the_end(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 1000)


def test_a_video_kept_in_the_upload_store_plays_by_ranged_gets(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        upload_root=tmp_path / "uploads",
        upload_store="s3://interviews/kept",
        media_url_secret=SecretStr(SECRET),
    )
    with moto.mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="interviews")
        settings, key = keyed(settings, ("platform", "submit+read"))
        with make_client(settings, FakePublisher()) as client:
            link = submitted(client, key["platform"], clip, "s3v")
            part = client.get(link, headers={"Range": "bytes=50-149"})

    assert not list((tmp_path / "uploads").rglob("*.mp4"))  # only in the bucket
    assert part.status_code == 206
    assert part.content == clip.read_bytes()[50:150]
    assert part.headers["content-range"] == f"bytes 50-149/{clip.stat().st_size}"

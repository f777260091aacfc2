"""The report the API serves, in a real browser: its player plays the kept video through the
signed link (no API key in the page or in the video's requests), a click on a transcript turn
or on a chart moves the video there, and a link that was altered does not play."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.interviews import interview
from tests.media_factory import make_clip
from tests.unit.test_api import FakePublisher, keyed
from video_analysis.api import create_app
from video_analysis.settings import Settings
from video_analysis.store import SQLiteResultStore
from video_analysis.streams.embedded import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIDEO_ID = "player-1"
CLIP_S = 15.0
#: The player's link with the first character of its signature changed.
ALTER_SIGNATURE = """() => {
  const video = document.getElementById('recording');
  video.src = video.src.replace(/sig=[^&]/, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A'));
}"""

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (scripts/ensure-services installs it; CI runs it)",
)


@dataclass
class Served:
    base: str
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API on a free port with a key, one uploaded clip and its (generated) result."""
    import uvicorn

    root = tmp_path_factory.mktemp("served")
    clip = make_clip(root / "answer.mp4", duration=CLIP_S, size=(160, 120))
    settings, keys = keyed(
        Settings(
            environment="test",
            data_dir=root / "data",
            upload_root=root / "uploads",
            models_dir=root / "models",
        ),
        ("platform", "submit+read"),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, publisher=FakePublisher()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with clip.open("rb") as fh:
            accepted = httpx.post(
                f"{base}/analyze-video",
                files={"file": ("answer.mp4", fh, "video/mp4")},
                data={"video_id": VIDEO_ID},
                headers={"X-API-Key": keys["platform"]},
                timeout=30,
            )
        assert accepted.status_code == 202, accepted.text
        result = interview(int(CLIP_S))  # S2 asks at 0.2 s, S1 answers from 3.5 s
        result.video_id = VIDEO_ID
        asyncio.run(_save(settings, result))
        yield Served(base=base, key=keys["platform"])
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def _save(settings: Settings, result: object) -> None:
    store = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    await store.start()
    try:
        await store.save_result(result)  # type: ignore[arg-type]
    finally:
        await store.close()


def test_a_click_on_a_turn_or_the_chart_plays_the_video_from_there(served: Served) -> None:
    from playwright.sync_api import Route, sync_playwright

    report = f"{served.base}/videos/{VIDEO_ID}/report"
    problems: list[str] = []
    media: list[tuple[str, dict[str, str]]] = []

    def with_key(route: Route) -> None:
        # Only the page itself is fetched with the key, as a platform's backend would.
        route.continue_(headers={**route.request.headers, "x-api-key": served.key})

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on(
                "request",
                lambda r: media.append((r.url, r.headers)) if "/media?" in r.url else None,
            )
            page.route(report, with_key)
            answer = page.goto(report)
            assert answer is not None and answer.status == 200
            html = page.content()
            page.wait_for_function("document.getElementById('recording').readyState >= 1")
            duration = page.evaluate("document.getElementById('recording').duration")

            # The candidate's turn starts at 3.5 s: its time link moves the video there.
            page.locator("#transcript .turn a.at").nth(1).click()
            page.wait_for_function(
                "Math.abs(document.getElementById('recording').currentTime - 3.5) < 0.05"
            )
            at_turn = page.evaluate("document.getElementById('recording').currentTime")
            marker = page.locator("#timeline-chart .marker").bounding_box()

            # A point on the chart: the middle of its time axis is the middle of the video.
            chart = page.locator("#timeline-chart")
            box = chart.bounding_box()
            assert box is not None
            x0 = float(chart.get_attribute("data-x0") or 0)
            x1 = float(chart.get_attribute("data-x1") or 0)
            chart.click(position={"x": box["width"] * (x0 + x1) / 2, "y": box["height"] * 0.5})
            page.wait_for_function(
                "Math.abs(document.getElementById('recording').currentTime - 7.5) < 0.3"
            )
            at_chart = page.evaluate("document.getElementById('recording').currentTime")

            # The same link with its signature altered plays nothing, and the page says so.
            page.evaluate(ALTER_SIGNATURE)
            page.wait_for_function(
                "document.getElementById('player-note').textContent.includes('cannot be played')"
            )
        finally:
            browser.close()

    assert problems == []
    assert served.key not in html  # the key never reaches the page
    assert abs(duration - CLIP_S) < 0.5
    assert abs(at_turn - 3.5) < 0.05
    assert marker is not None and box["x"] <= marker["x"] <= box["x"] + box["width"]
    assert abs(at_chart - 7.5) < 0.3
    # The video came through the signed link alone, without a key, from the API itself.
    assert media and all(
        url.startswith(f"{served.base}/videos/{VIDEO_ID}/media?") for url, _ in media
    )
    assert all("x-api-key" not in headers for _, headers in media)

"""A real face and speech through the whole pipeline with every analyzer worker running, uploaded
over HTTP as a user would; then its report page in a real browser."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_pipeline_e2e import stored_rows
from tests.media_factory import make_clip
from tests.stack import Stack, wait_for_results
from video_analysis.streams.topics import ANALYSIS_RESULTS

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Where the browser test leaves its screenshot (CI keeps the folder as an artifact).
ARTIFACTS = Path(os.environ.get("VA_TEST_ARTIFACTS", "test-artifacts"))


@dataclass
class Run:
    stack: Stack
    video_id: str
    result: dict[str, Any]
    #: (seconds after the upload, event name, payload) of GET /videos/{id}/events
    events: list[tuple[float, str, dict[str, Any]]]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.stack.api_port}{path}"


@pytest.fixture(scope="module")
def run(
    broker: str, mysql_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    from tests.e2e.conftest import make_stack

    root = tmp_path_factory.mktemp("vision")
    deployment = make_stack(
        broker,
        root,
        mysql_database,
        VA_FRAME_ANALYZERS="quality,face,pose",
        VA_AUDIO_ANALYZERS="quality,speech",
    )
    clip = make_clip(root / "face.mp4", duration=6.0, size=(640, 360), audio="speech", face=True)
    for role in ("splitter", "quality", "face", "pose", "speech", "join"):
        deployment.start_worker(role)
    deployment.start_api()
    try:
        uploaded = time.monotonic()
        with clip.open("rb") as fh:
            answer = httpx.post(
                f"http://127.0.0.1:{deployment.api_port}/analyze-video",
                files={"file": ("face.mp4", fh, "video/mp4")},
                data={"interview_id": "iv-1"},
                timeout=60,
            )
        assert answer.status_code == 202, answer.text
        video_id = answer.json()["video_id"]
        events = follow_events(
            f"http://127.0.0.1:{deployment.api_port}/videos/{video_id}/events", uploaded
        )
        topic = deployment.topic(ANALYSIS_RESULTS)
        results = asyncio.run(wait_for_results(broker, topic, {video_id}, 400, deployment))
        yield Run(deployment, video_id, results[video_id], events)
    finally:
        deployment.stop()


def follow_events(url: str, since: float) -> list[tuple[float, str, dict[str, Any]]]:
    """The server-sent events of one video until its final one, as a client sees them."""
    events: list[tuple[float, str, dict[str, Any]]] = []
    name = ""
    with httpx.stream("GET", url, timeout=httpx.Timeout(10.0, read=400.0)) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((time.monotonic() - since, name, json.loads(line[6:])))
                if name == "final":
                    break
    return events


def test_progress_and_the_transcript_arrive_live_before_the_result(run: Run) -> None:
    names = [name for _, name, _ in run.events]
    assert names[-1] == "final" and run.events[-1][2]["state"] == "complete"
    assert run.events[-1][2]["stages"]["join"] == 1.0
    # The transcript formed before the final event, in order, and says what was said.
    spoken = [(t, data) for t, name, data in run.events if name == "transcript"]
    assert spoken and names.index("transcript") < names.index("final")
    text = " ".join(s["text"] for _, data in spoken for s in data["segments"]).lower()
    assert "question" in text
    stages = [data["stages"] for _, name, data in run.events if name == "status"]
    assert any("analyze.speech" in s for s in stages)
    print(f"first partial words {spoken[0][0]:.1f} s after the upload began")


def test_face_and_speech_clip_gets_every_section(run: Run) -> None:
    result = run.result
    assert result["status"] == "complete", result.get("missing_parts")
    face = result["face"]
    assert face["cannot_assess"] is None
    assert face["coverage"] >= 0.9
    distribution = face["expression"]["distribution"]
    assert set(distribution) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert sum(distribution.values()) == pytest.approx(1.0, abs=0.01)
    assert face["expression"]["timeline"]
    assert result["gaze"]["cannot_assess"] is None
    assert 0.0 <= result["gaze"]["eye_contact_ratio"] <= 1.0
    assert result["head_pose"]["coverage"] >= 0.9
    speech = result["speech"]
    assert speech["cannot_assess"] is None
    assert speech["language"] == "en"
    # make_clip's speech: "Thank you for the question. In my last role I led a small team..."
    assert "question" in speech["transcript"].lower()
    assert speech["segments"] and speech["segments"][0]["words"]
    assert {m["analyzer"] for m in result["models"]} == {"quality", "face", "pose", "speech"}
    assert stored_rows(run.stack, run.video_id)[0][0] == "complete"


#: Fonts with Hangul that the page names (report.html.j2) and that a machine may have.
HANGUL_FAMILIES = ("Nanum", "Noto Sans CJK", "Noto Sans KR", "Malgun", "Apple SD Gothic")


@dataclass
class Seen:
    """What the browser showed of one language's page."""

    html: str
    box: dict[str, float] | None
    marker: dict[str, float] | None
    turns: int
    transcript: str
    figures: int
    lines: int
    heading_fonts: list[str]
    shot: Path


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (scripts/ensure-services installs it; CI runs it)",
)
def test_the_report_page_renders_in_a_real_browser_in_korean_and_english(run: Run) -> None:
    from playwright.sync_api import sync_playwright

    from tests.report_words import english_left, hangul, visible

    problems: list[str] = []
    requests: list[str] = []
    seen: dict[str, Seen] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for language in ("ko", "en"):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.on("request", lambda r: requests.append(r.url))
                response = page.goto(run.url(f"/videos/{run.video_id}/report?lang={language}"))
                assert response is not None and response.status == 200
                assert response.headers["content-language"] == language
                page.wait_for_load_state("networkidle")
                box = page.locator("#timeline-chart svg").bounding_box()
                # A turn's time puts the marker on the timeline.
                page.locator("#transcript .turn a.at").first.click()
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / f"report-browser-{language}.png"
                page.screenshot(path=str(shot), full_page=True)
                seen[language] = Seen(
                    html=page.content(),
                    box=box,
                    marker=page.locator("#timeline-chart .marker").bounding_box(),
                    turns=page.locator("#transcript .turn").count(),
                    transcript=page.locator("#transcript").inner_text().lower(),
                    figures=page.locator("#key-figures tbody tr").count(),
                    lines=page.locator("#timeline-chart svg path").count(),
                    heading_fonts=_fonts_drawing(page, "h1"),
                    shot=shot,
                )
                page.close()
        finally:
            browser.close()

    assert problems == []
    # Self-contained: the pages themselves are the only things the browser fetched, besides
    # the video their players play through the signed link.
    media = run.url(f"/videos/{run.video_id}/media?")
    assert [r for r in requests if not r.startswith(media)] == [
        run.url(f"/videos/{run.video_id}/report?lang={language}") for language in ("ko", "en")
    ]
    for shown in seen.values():
        box, marker = shown.box, shown.marker
        assert box is not None and box["width"] > 900 and box["height"] > 400
        assert shown.lines > 20  # axes, bars and the series were drawn
        assert shown.turns >= 1
        assert "question" in shown.transcript  # what was said, as it was said
        assert shown.figures >= 10
        assert marker is not None and box["x"] <= marker["x"] <= box["x"] + box["width"]
        assert shown.shot.stat().st_size > 20_000
    korean, english = seen["ko"], seen["en"]
    assert english_left(korean.html) == []
    assert hangul(visible(korean.html)) and not hangul(visible(english.html))
    # The Korean heading is drawn with a font that has Hangul, not as empty boxes.
    assert any(f.startswith(HANGUL_FAMILIES) for f in korean.heading_fonts), korean.heading_fonts


def _fonts_drawing(page: Any, selector: str) -> list[str]:
    """The platform fonts Chromium drew the element's text with (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [font["familyName"] for font in fonts]

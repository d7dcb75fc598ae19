"""The gallery in a real browser: Debian's chromium, headless, driven by Playwright (no download).

Checks what a person would: every visible image decodes, each filter hides exactly the rows it
should, a clip plays inline from file://, and the console stays clean. A screenshot is kept
as an artifact (copied to $SYNTHCAM_ARTIFACTS when set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import skip_unless_ci

from synthcam.gallery import build_gallery, finding_kinds
from synthcam.workspace import Workspace

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api  # a dev dependency: missing is a failure, not a skip

    if not CHROMIUM.exists():
        skip_unless_ci(f"{CHROMIUM} is not installed (apt install chromium, or `make system-deps`)")
    with sync_api.sync_playwright() as p:
        # an installed chromium that cannot start is a failure: the gallery's promise is untested otherwise
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, qa_ws: Workspace):
    build_gallery(qa_ws.root, workers=2)
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    pg.goto((qa_ws.root / "gallery" / "index.html").as_uri())
    pg.problems = problems
    yield pg
    pg.close()


def visible_ids(pg) -> list[str]:
    return pg.eval_on_selector_all("section.row:not([hidden])", "rows => rows.map(r => r.dataset.id)")


def expected_ids(ws: Workspace, state: str = "", series: str = "", kind: str = "", text: str = "") -> list[str]:
    """The rows a filter must leave, computed from the store: some cell matches state and kind."""
    with ws.store() as store:
        jobs = store.jobs()
    keep = {j.clip_id for j in jobs
            if (not state or j.state == state) and (not kind or kind in finding_kinds(j))
            and (not series or j.series == series) and text.lower() in j.clip_id.lower()}
    return sorted(keep)


def test_images_decode_filters_hide_the_right_rows_and_a_clip_plays(page, qa_ws: Workspace, tmp_path: Path) -> None:
    pg = page
    # 1. Every image in a visible row decodes (scrolled into view, since they load lazily).
    images = pg.locator("section.row:not([hidden]) img")
    assert images.count() == 12
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        pg.wait_for_function("img => img.complete", arg=img.element_handle(), timeout=5000)
        assert img.evaluate("img => img.naturalWidth") > 0, img.get_attribute("src")
    pg.evaluate("window.scrollTo(0, 0)")

    # 2. Filters hide exactly the rows whose cells do not match (expected rows come from the store).
    assert visible_ids(pg) == expected_ids(qa_ws) == ["E01", "P01", "P02", "R01", "T01"]
    for state, series, kind, text in [("failed", "", "", ""), ("", "P", "", ""), ("", "P", "flicker", ""),
                                      ("", "", "blocked", ""), ("pending", "T", "", ""), ("done", "", "", "p0"),
                                      ("", "", "", "zz"), ("", "", "", "")]:
        pg.select_option("#f-state", state)
        pg.select_option("#f-series", series)
        pg.select_option("#f-kind", kind)
        pg.fill("#f-id", text)
        want = expected_ids(qa_ws, state, series, kind, text)
        assert visible_ids(pg) == want, (state, series, kind, text)
        assert pg.locator("#shown").inner_text() == f"{len(want)} of 5 IDs"
        assert pg.locator("#empty").is_visible() == (not want)
    assert expected_ids(qa_ws, "failed") == ["P02"] and expected_ids(qa_ws, kind="flicker", series="P") == ["P02"]

    # 3. No <video> until a poster is clicked; then it plays inline (H.264 from file://).
    assert pg.locator("video").count() == 0
    cell = pg.locator('div.cell[data-name="P01_5s"]')
    cell.locator("button.play").click()
    video = cell.locator("video")
    assert video.count() == 1
    pg.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle(), timeout=10000)
    assert video.evaluate("v => v.error === null && !v.paused")
    assert pg.locator("video").count() == 1

    # 4. A clean console, and a screenshot to look at.
    shot = tmp_path / "gallery.png"
    pg.screenshot(path=str(shot), full_page=True)
    if os.environ.get("SYNTHCAM_ARTIFACTS"):
        target = Path(os.environ["SYNTHCAM_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, target / "gallery.png")
    assert shot.stat().st_size > 10_000
    assert pg.problems == []


def test_filters_survive_a_reload_through_the_url(page) -> None:
    pg = page
    pg.select_option("#f-state", "blocked")
    assert "state=blocked" in pg.url
    pg.reload()
    assert pg.locator("#f-state").input_value() == "blocked"
    assert visible_ids(pg) == ["T01"]
    assert pg.problems == []

"""The gallery page: the whole plan, counts like the status file, offline links, incremental thumbnails."""

from __future__ import annotations

import json
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest

from synthcam.errors import InputError
from synthcam.gallery import build_gallery
from synthcam.workspace import Workspace

from gallery.qa_factory import DEFAULT_STATES, FAILURES, job_of


class Page(HTMLParser):
    """Tags and attributes of a page, noting which ones sit inside <template>."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None], bool]] = []
        self._template = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "template":
            self._template += 1
        self.tags.append((tag, dict(attrs), self._template > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._template -= 1

    def all(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a, _ in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def build(ws: Workspace) -> tuple[str, Page]:
    result = build_gallery(ws.root, workers=2)
    text = result.path.read_text(encoding="utf-8")
    return text, Page(text)


def set_job(ws: Workspace, name: str, **fields: object) -> None:
    """Change a job as a later run would (a new clip, a lost verification)."""
    with sqlite3.connect(ws.db_path) as db:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE jobs SET {sets} WHERE name = ?", [*fields.values(), name])


def test_one_row_per_id_and_one_cell_per_job(qa_ws: Workspace) -> None:
    _, page = build(qa_ws)
    rows = page.all("section", "row")
    assert [r["data-id"] for r in rows] == ["E01", "P01", "P02", "R01", "T01"]
    cells = {c["data-name"]: c["data-state"] for c in page.all("div", "cell") if c.get("data-name")}
    assert cells == DEFAULT_STATES
    p02 = next(r for r in rows if r["data-id"] == "P02")
    assert p02["data-states"] == "done failed"
    assert p02["data-kinds"] == "black flicker"  # a finding on the 5 s clip, a failure kind on the 10 s one


def test_header_counts_are_the_status_counts(qa_ws: Workspace) -> None:
    text, _ = build(qa_ws)
    with qa_ws.store() as store:
        counts = store.counts()
    for state in ("pending", "running", "done", "failed", "blocked"):
        assert re.search(rf'data-count="{state}"><b>{counts[state]}</b>', text), state
    assert f"<b>{counts['total']}</b> clips" in text


def test_the_page_is_self_contained_and_links_stay_inside_the_workspace(qa_ws: Workspace) -> None:
    text, page = build(qa_ws)
    gallery = qa_ws.root / "gallery"
    assert "http://" not in text and "https://" not in text
    assert not page.all("link") and all("src" not in a for a in page.all("script"))
    links = [a["src"] for t in ("img", "video") for a in page.all(t)] + [a["href"] for a in page.all("a")]
    links += [a["poster"] for a in page.all("video")]
    assert links
    for link in links:
        target = (gallery / link).resolve()
        assert target.is_file(), link
        assert qa_ws.root in target.parents


def test_no_video_loads_until_played_and_images_are_lazy(qa_ws: Workspace) -> None:
    _, page = build(qa_ws)
    videos = [(a, inside) for t, a, inside in page.tags if t == "video"]
    assert len(videos) == 6 and all(inside for _, inside in videos)
    assert all(a["preload"] == "none" and a["src"].startswith("../clips/") for a, _ in videos)
    images = page.all("img")
    assert len(images) == 12
    assert all(a["loading"] == "lazy" and int(a["width"]) > 0 and int(a["height"]) > 0 for a in images)


def test_cells_without_a_clip_show_why(qa_ws: Workspace) -> None:
    text, _ = build(qa_ws)
    kind, detail = FAILURES["P02_10s"]
    assert f"{kind}: {detail}" in text
    assert "blocked: guardrail: the prompt was refused (weapon)" in text
    assert "no 30 s variant" in text


def test_thumbnails_are_made_once_per_sha256(qa_ws: Workspace) -> None:
    first = build_gallery(qa_ws.root)
    assert (first.thumbs.made, first.thumbs.kept) == (6, 0)
    assets = qa_ws.root / "gallery" / "assets"
    before = {p.name: p.stat().st_mtime_ns for p in assets.glob("*.jpg")}
    again = build_gallery(qa_ws.root)
    assert (again.thumbs.made, again.thumbs.kept) == (0, 6)
    set_job(qa_ws, "P01_5s", sha256="0" * 64)  # a re-generated clip
    third = build_gallery(qa_ws.root)
    assert (third.thumbs.made, third.thumbs.kept) == (1, 5)
    after = {p.name: p.stat().st_mtime_ns for p in assets.glob("*.jpg")}
    assert sorted(n for n in before if before[n] != after[n]) == ["P01_5s.poster.jpg", "P01_5s.sheet.jpg"]
    state = json.loads((assets / "thumbs.json").read_text())
    assert state["clips"]["P01_5s"]["sha256"] == "0" * 64


def test_images_of_clips_no_longer_verified_are_removed(qa_ws: Workspace) -> None:
    build_gallery(qa_ws.root)
    set_job(qa_ws, "R01_5s", state="failed", error_kind="verify:frozen", error="no motion for 4 s")
    result = build_gallery(qa_ws.root)
    assert result.thumbs.removed == 2
    assert not list((qa_ws.root / "gallery" / "assets").glob("R01_5s.*"))


def test_a_verified_clip_missing_on_disk_is_reported_not_linked(qa_ws: Workspace) -> None:
    (qa_ws.root / "clips" / "E01_5s.mp4").unlink()
    result = build_gallery(qa_ws.root)
    assert "E01_5s" in result.problems
    text = result.path.read_text()
    assert "verified clip file is missing: clips/E01_5s.mp4" in text
    assert "../clips/E01_5s.mp4" not in text


def test_text_from_the_store_is_escaped(qa_ws: Workspace) -> None:
    spec = {**job_of(qa_ws, "T01_10s").spec, "prompt": "<script>alert(1)</script>"}
    set_job(qa_ws, "T01_10s", spec=json.dumps(spec))
    text, _ = build(qa_ws)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_a_folder_that_is_not_a_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist; run `synthcam run`"):
        build_gallery(tmp_path / "nowhere")
    with pytest.raises(InputError, match="not a synthcam workspace"):
        build_gallery(tmp_path)
    assert not (tmp_path / "synthcam.db").exists()


def test_a_workspace_with_no_jobs_is_refused(tmp_path: Path) -> None:
    Workspace.at(tmp_path).store().close()
    with pytest.raises(InputError, match="has no jobs yet; run `synthcam run` first"):
        build_gallery(tmp_path)


def test_the_badge_and_details_name_the_verification_policy(qa_ws: Workspace) -> None:
    from gallery.qa_factory import record_policy
    from synthcam.verify import VerifyPolicy

    record_policy(qa_ws, "R01_5s", VerifyPolicy(profile="container-only").to_record())
    custom = VerifyPolicy(checks={"static": False}, thresholds={"flicker_max_fraction": 0.3})
    record_policy(qa_ws, "E01_5s", custom.to_record())
    text, page = build(qa_ws)
    badges = {}
    for cell in re.findall(r'<div class="cell state-\w+"[^>]*data-name="(\w+)">(.*?)</dl>', text, re.S):
        name, body = cell
        badges[name] = re.search(r'<span class="badge[^"]*"[^>]*>([^<]*)</span>', body).group(1)
        if name in ("R01_5s", "E01_5s", "P01_5s"):
            assert "<dt>verify policy</dt>" in body, name
    assert badges["R01_5s"] == "verified · content checks off"
    assert badges["E01_5s"] == "verified · custom policy"
    assert badges["P01_5s"] == "verified" and badges["P02_10s"] == "failed"  # no record: the default policy
    r01 = text[text.index('data-name="R01_5s"'):]
    assert "container-only · content checks off: near_duplicate, black, frozen, flicker, static, scene_cut" in r01[:4000]
    e01 = text[text.index('data-name="E01_5s"'):]
    assert "custom: static off, flicker_max_fraction 0.3 · content checks off: static" in e01[:4000]
    assert f'title="policy sha256 {custom.digest}"' in e01[:4000]
    assert len(page.all("span", "b-policy")) == 2
    assert "<b>2</b> verified under a non-default policy" in text


def test_a_failed_fidelity_audit_shows_every_finding(qa_ws: Workspace) -> None:
    """A clip the renderer's own audit vetoed: its reason names each finding and the page can
    filter by any of their kinds."""
    set_job(qa_ws, "P02_10s", error_kind="verify:out_of_frame",
            error="the person (track 1) is never in view; its action (walk_past) needs 6.0 s "
                  "(also low_contrast: the person (track 1) differs by delta E 3.0)")
    text, page = build(qa_ws)
    cell = next(c for c in page.all("div", "cell") if c.get("data-name") == "P02_10s")
    assert set(cell["data-kinds"].split()) == {"out_of_frame", "low_contrast"}
    assert "verify:out_of_frame: the person (track 1) is never in view" in text
    assert "also low_contrast: the person (track 1) differs by delta E 3.0" in text


def test_cpu_backends_show_cpu_time_not_gpu_hours(qa_ws: Workspace) -> None:
    store = qa_ws.store()
    try:
        store.conn.execute("UPDATE jobs SET spec = json_set(spec, '$.device', 'cpu')")
    finally:
        store.close()
    text, _ = build(qa_ws)
    assert "CPU h</li>" in text and "GPU h</li>" not in text

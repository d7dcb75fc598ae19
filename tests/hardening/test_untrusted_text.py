"""Leaks and crashes from untrusted text, and resource limits (issue 16, items 6-11)."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import assert_one_line_error, invoke
from synthcam.engine.runner import RunOptions, run
from synthcam.redact import Masker, mask_secrets, mask_url, terminal_safe
from synthcam.store import JobStore
from synthcam.verify import verify_file

from .conftest import TINY, opts

# --- 6. one masking function, against a table of secret shapes -------------------------------------

SECRETS = [
    # (text, the secret that must not survive, what must survive)
    ("http://user:Passw0rd@XYZ@127.0.0.1:8080/r.git", "Passw0rd@XYZ", "127.0.0.1:8080/r.git"),
    ("https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r", "ghp_abcdefghijklmnopqrstuvwxyz0123", "github.com/o/r"),
    ("https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.com/x", "glpat-abcdefghijklmnopqrst", "gitlab.com/x"),
    ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi.abc.def", "Authorization"),
    ("curl -H 'Authorization: token 1234567890abcdef'", "1234567890abcdef", "curl"),
    ("got Bearer sk_live_abcdefghijklmnop back", "sk_live_abcdefghijklmnop", "got"),
    ("token ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 used", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "used"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "11ABCDEFG0123456789", "github_pat_"),
    ("HF_TOKEN=hf_abcdefghijklmnop", "abcdefghijklmnop", "HF_TOKEN"),
    ("aws AKIAIOSFODNN7EXAMPLE here", "IOSFODNN7EXAMPLE", "aws"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI", "AWS_SECRET_ACCESS_KEY"),
    ("MY_API_KEY=abc123def456", "abc123def456", "MY_API_KEY"),
    ("DB_PW=hunter2hunter2", "hunter2hunter2", "DB_PW"),
    ("SERVICE_PASSWORD: s3cr3t!", "s3cr3t!", "SERVICE_PASSWORD"),
    ('{"api_key": "k-12345678"}', "k-12345678", "api_key"),
    ("--password topsecret --num-steps 35", "topsecret", "--num-steps 35"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA", "PRIVATE KEY"),
    ("xoxb-123456789012-abcdefghij", "123456789012-abcdefghij", "xox"),
]


@pytest.mark.parametrize("text,secret,kept", SECRETS)
def test_mask_secrets_table(text, secret, kept):
    masked = mask_secrets(text)
    assert secret not in masked and kept in masked and "***" in masked


@pytest.mark.parametrize("text", [
    "Saved video to /out/P01_5s.mp4", "[12-05 10:00:00|INFO|cosmos_predict2/inference.py:85:main] [1/3] Processing sample P01_5s",
    "--offload-tokenizer --num-steps 35 --key-frames 4", '{"tokenizer": "/ckpt/tok", "seed": 12}',
])
def test_ordinary_text_is_left_alone(text):
    assert mask_secrets(text) == text


def test_mask_url_splits_at_the_last_at_sign_like_the_sender():
    assert mask_url("http://u:p@ss@host:1/x") == "http://***@host:1/x"
    assert mask_url("https://ghp_x1234567@host/x") == "https://***@host/x"
    assert mask_url("git@github.com:o/r.git") == "git@github.com:o/r.git"  # scp-like: no secret


def test_masker_knows_secret_environment_values():
    mask = Masker({"HF_TOKEN": "plainvalue123", "PATH": "/usr/bin", "CUSTOM_SECRET": "abcdef12"})
    assert mask("x plainvalue123 y abcdef12 /usr/bin") == "x *** y *** /usr/bin"


def test_backend_output_is_masked_in_store_logs_and_status(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", "leaky=fakes.leaky_backend:LeakyBackend")
    ws = tmp_path / "ws"
    run(TINY, ws, RunOptions(backend="leaky", workers=1, lease_s=5, only=["A01"], durations=[1], max_attempts=1))
    leaked = "ghp_abcdefghijklmnopqrstuvwxyz0123"
    texts = [(ws / "generation_status.json").read_text()]
    texts += [p.read_text() for p in (ws / "logs").rglob("*.log")]
    store = JobStore(ws / "synthcam.db")
    try:
        texts += [json.dumps(store.events(limit=1000)), json.dumps([j.error for j in store.jobs()])]
    finally:
        store.close()
    assert any("***" in t for t in texts)
    for t in texts:
        assert leaked not in t and "hunter2hunter2" not in t
    shown = invoke("logs", "A01_1s", "-w", ws).stdout + invoke("status", "-w", ws).stdout
    assert leaked not in shown and "failed" in shown


# --- 7. rich markup and terminal control sequences in untrusted text -------------------------------

HOSTILE = "[/] [bold red]x[/bold red] \x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07 [link=file:///etc]y[/link]"


def test_terminal_safe_strips_control_sequences():
    assert terminal_safe("a\x1b[2Jb\x1b]52;c;ZXZpbA==\x07c\x1b]0;t\x1b\\d\r\ne\x9bf") == "abcd\nef"


def test_markup_in_failure_text_cannot_crash_any_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCAM_BACKENDS", "leaky=fakes.leaky_backend:LeakyBackend")
    monkeypatch.setenv("LEAKY_MESSAGE", HOSTILE)
    ws = tmp_path / "w[/]s"
    result = invoke("run", "-m", TINY, "-w", ws, "--backend", "leaky", "--only", "A01", "--durations", "1",
                    "--max-attempts", "1")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    for args in (("status",), ("logs", "A01_1s"), ("status", "--json")):
        r = invoke(*args, "-w", ws)
        assert r.exit_code == 0, (args, r.stderr)
        out = r.stdout
        assert "\x1b]52" not in out and "\x1b[2J" not in out and "\x07" not in out
        if "--json" not in args:
            assert "[/]" in out  # shown as text
    bad_clips = tmp_path / "[bold]clips[x]"  # a path that is markup
    bad_clips.mkdir()
    (bad_clips / "A01_1s.mp4").write_bytes(b"[/] \x1b[2J not a video")
    r = invoke("verify", bad_clips)
    assert r.exit_code == 1 and "Traceback" not in r.stdout + r.stderr and "\x1b[2J" not in r.stdout
    r = invoke("adopt", bad_clips, "-m", TINY, "-w", tmp_path / "ws2", "--backend", "leaky")
    assert r.exit_code == 1 and "Traceback" not in r.stdout + r.stderr and "rejected" in r.stdout


def test_markup_in_an_error_message_is_printed_as_text(tmp_path):
    result = invoke("check", "-m", tmp_path / "[/]" / "nope[bold].yaml")
    err = assert_one_line_error(result, "no such file", code=2)
    assert "[/]/nope[bold]" in err


# --- 8. manifest templates are bounded ---------------------------------------------------------------

TEMPLATES = [
    ("{{ ('a' * 100000000) * 20 }}", "over the limit"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
     "over the limit"),
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ no_such_name }}", "undefined"),
    ("{{ ''.__class__.__mro__ }}", "not allowed"),
    ("{{ 9 ** 99999 }}", "exponent"),
    ("{{ 'x'|center(1000000000) }}", "No filter named 'center'"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x", "longer than"),
    ("{{ ('ab' * 30000)|replace('a', 'aaaaaaaaaa') }}", "replace"),
]


@pytest.mark.parametrize("template,needle", TEMPLATES)
def test_hostile_templates_are_one_line_errors_with_file_and_line(tmp_path, template, needle):
    import yaml

    data = yaml.safe_load(TINY.read_text())
    data["templates"] = {"evil": template}
    data["defaults"]["template"] = "evil"
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    err = assert_one_line_error(invoke("lint", "-m", path), needle, code=2)
    assert f"{path}:" in err  # file:line


# --- 9. frames shares verify's pixel limit; the manifest refuses such a resolution --------------------

def _huge_mjpeg(path: Path, width: int, height: int) -> Path:
    """A small file that claims a huge frame: one flat JPEG in a Matroska container."""
    import io

    buf = io.BytesIO()
    Image.new("L", (width, height), 0).save(buf, "JPEG", quality=5)
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("mjpeg", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        packet = av.Packet(buf.getvalue())
        packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, Fraction(1, 24)
        out.mux(packet)
    return path


def test_frames_refuses_a_file_beyond_the_pixel_limit(tmp_path):
    clip = _huge_mjpeg(tmp_path / "big_5s.mp4", 6400, 6400)  # 41 Mpx, over H.264's 35.7 Mpx
    assert clip.stat().st_size < 2_000_000
    err = assert_one_line_error(invoke("frames", clip, "--out", tmp_path / "f"), "decode limit", code=1)
    assert "6400x6400" in err
    assert not (tmp_path / "f").exists() or not list((tmp_path / "f").iterdir())
    assert "decode limit" in verify_file(clip).findings[0].detail


def test_a_manifest_resolution_beyond_the_limit_is_refused_at_check(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(TINY.read_text().replace("resolution: 160x96", "resolution: 8192x8192"))
    assert_one_line_error(invoke("check", "-m", path), "beyond H.264", code=2)


# --- 10. verify probes before hashing, and says when there is nothing to verify ----------------------

def test_a_huge_sparse_file_is_not_hashed_to_the_end(tmp_path, monkeypatch):
    from synthcam.verify import file as vfile

    sparse = tmp_path / "x_5s.mp4"
    with open(sparse, "wb") as fh:
        fh.truncate(4 * 1024**3)  # 4 GiB of holes: instant to make, slow to read
    read = []
    real = vfile.sha256_file
    monkeypatch.setattr(vfile, "sha256_file", lambda p, deadline=None: read.append(p) or real(p, deadline))
    report = verify_file(sparse)
    assert report.status in ("not_video", "unreadable") and report.sha256 is None and not read


@pytest.mark.parametrize("make", ["empty", "folder_named_like_a_clip"])
def test_verify_with_no_clips_is_a_usage_error(tmp_path, make):
    target = tmp_path / ("x_5s.mp4" if make == "folder_named_like_a_clip" else "empty")
    target.mkdir()
    assert_one_line_error(invoke("verify", target), "no clips", code=2)


# --- 11. worker counts are validated and capped by the work -----------------------------------------

def test_workers_are_capped_by_the_work(tmp_path):
    result = run(TINY, tmp_path / "ws", RunOptions(backend="simple", workers=64, lease_s=5, only=["A01"], durations=[1]))
    assert result.ok and result.plan.workers == 1
    store = JobStore(tmp_path / "ws" / "synthcam.db")
    try:
        assert len(store.workers()) == 1
    finally:
        store.close()


@pytest.mark.parametrize("value", ["-5", "0", "65"])
def test_bad_worker_counts_are_refused(tmp_path, value):
    assert_one_line_error(invoke("run", "-m", TINY, "-w", tmp_path / "ws", "--backend", "simple", "--workers", value),
                          "--workers", code=2)
    assert not (tmp_path / "ws").exists()


def _render_runaway_in_a_thread(monkeypatch) -> str:
    """Render a template that would run for hours, with a 0.2 s deadline; its error message."""
    import threading

    from synthcam import templating

    runaway = templating.bounded_environment().from_string(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x")
    monkeypatch.setattr(templating, "MAX_RENDER_S", 0.2)
    result: dict[str, str] = {}

    def target() -> None:
        try:
            templating.render_bounded(runaway, {})
        except templating.TemplateLimit as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the watchdog no longer stops runaway renders"
    return result.get("error", "")


def test_the_render_deadline_survives_interrupts_landing_at_any_moment(monkeypatch):
    """The deadline is an asynchronous interrupt, so it can land anywhere in the rendering thread,
    bookkeeping included (once, under coverage's tracing, one landed in a Condition's exit, leaked
    its lock and left the watchdog dead: the next runaway render spun forever). Hundreds of renders
    against a deadline they may or may not meet, then a pause long enough for the watchdog thread
    to exit idle, must leave it working: a runaway template afterwards is still stopped."""
    import time

    from synthcam import templating

    env = templating.bounded_environment()
    racing = env.from_string("{% for i in range(n) %}{{ i }}{% endfor %}")
    monkeypatch.setattr(templating, "MAX_RENDER_S", 0.002)
    outcomes = {"rendered": 0, "stopped": 0}
    for n in [50, 200, 400, 800, 1600] * 60:
        try:
            templating.render_bounded(racing, {"n": n})
            outcomes["rendered"] += 1
        except templating.TemplateLimit:
            outcomes["stopped"] += 1
    assert sum(outcomes.values()) == 300
    monkeypatch.setattr(templating._Watchdog, "IDLE_EXIT_S", 0.05)
    time.sleep(0.3)
    assert not templating._WATCHDOG.running, "the idle watchdog thread should have exited"
    assert "longer than" in _render_runaway_in_a_thread(monkeypatch)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_outlives_its_own_thread_dying_and_a_patched_time_sleep(monkeypatch):
    """A test once patched time.sleep to raise KeyboardInterrupt: the watchdog thread died with it,
    still marked running, and the next runaway template spun forever. Its clock is its own now,
    and a watchdog thread that dies of anything is replaced on the next render."""
    import time

    from synthcam import templating

    env = templating.bounded_environment()

    def interrupted(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupted)
    assert "longer than" in _render_runaway_in_a_thread(monkeypatch)
    monkeypatch.undo()
    calls = []

    def dies_once(seconds):
        if not calls:
            calls.append(seconds)
            raise RuntimeError("the watchdog's thread dies")
        time.sleep(seconds)

    old = templating._WATCHDOG.thread
    if old is not None:
        old.join(5)  # let an idle watchdog exit, so that the next render starts one with dies_once
    monkeypatch.setattr(templating, "_sleep", dies_once)
    assert templating.render_bounded(env.from_string("{{ 1 }}"), {}) == "1"  # starts a watchdog that dies
    for _ in range(100):
        if templating._WATCHDOG.thread is not None and not templating._WATCHDOG.thread.is_alive():
            break
        time.sleep(0.01)
    assert calls, "the render started a new watchdog thread"
    assert "longer than" in _render_runaway_in_a_thread(monkeypatch)

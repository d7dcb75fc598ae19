"""`synthcam publish`: exit codes, one-line errors, JSON, and no credentials in any output."""

from __future__ import annotations

import json

import pytest
from helpers import assert_one_line_error, invoke

from publish.lfs_fixtures import git_sandbox, lfs_server, make_bench, pointer_text  # noqa: F401 - fixtures
from synthcam.publish.testserver import LfsTestServer

pytestmark = pytest.mark.usefixtures("git_sandbox")


def test_publish_check_and_repair(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    r = invoke("publish", "-w", bench.ws, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["published"], out["missing"], out["committed"]) == (3, 0, True)
    r = invoke("publish", "-w", bench.ws)
    assert r.exit_code == 0 and "confirmed 3 of 3 clips" in r.stdout and "(unchanged)" in r.stdout
    bench.on_server(bench.shas["T01_10s"]).unlink()
    r = invoke("publish", "-w", bench.ws, "--check")
    assert r.exit_code == 1 and "2 present, 1 missing" in r.stdout and "T01_10s" in r.stdout
    assert "synthcam publish --repair" in r.stdout
    r = invoke("publish", "-w", bench.ws, "--check", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["missing"] == 1
    r = invoke("publish", "-w", bench.ws, "--repair", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["repaired"] == 1
    assert invoke("publish", "-w", bench.ws, "--check").exit_code == 0


def test_a_refusal_is_one_error_line_and_a_table(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    clip = bench.ws / "clips" / "P01_5s.mp4"
    clip.write_text(pointer_text(bench.shas["P01_5s"], 100))
    r = invoke("publish", "-w", bench.ws)
    assert_one_line_error(r, "refused 1 clip(s)", "P01_5s", "pointer stub", code=1)
    assert "refused" in r.stdout and "clips/P01_5s.mp4" in r.stdout
    r = invoke("publish", "-w", bench.ws, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["refused"][0]["name"] == "P01_5s"


def test_server_down_is_a_clear_error(tmp_path):
    server = LfsTestServer(tmp_path / "lfs").start()
    bench = make_bench(tmp_path, server)
    server.stop()
    assert_one_line_error(invoke("publish", "-w", bench.ws), "cannot reach the LFS server at http://127.0.0.1:", code=1)


def test_usage_errors_exit_2(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    assert_one_line_error(invoke("publish", "-w", tmp_path / "nope"), "no job store")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--path", tmp_path / "nope"), "--path")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--check", "--branch", "x"), "--branch")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--remote", "upstream"), "no remote named 'upstream'")
    (bench.ws / ".git").rename(tmp_path / "moved.git")
    assert_one_line_error(invoke("publish", "-w", bench.ws), "not inside a git work tree")


def test_tokens_never_reach_the_output(tmp_path):
    token = "glpat-0123456789"
    with LfsTestServer(tmp_path / "lfs", credentials=("bot", token)) as server:
        bench = make_bench(tmp_path, None)
        bench.point_at(server, user_info=f"bot:{token}")
        runs = [invoke("publish", "-w", bench.ws), invoke("publish", "-w", bench.ws, "--json"),
                invoke("publish", "-w", bench.ws, "--check", "--remote", "origin")]
        bench.point_at(server, user_info="bot:wrong-" + token)
        runs.append(invoke("publish", "-w", bench.ws))
    assert [r.exit_code for r in runs] == [0, 0, 0, 1]
    assert "http://***@127.0.0.1" in runs[0].stdout and "refused the credentials" in runs[3].stderr
    assert all(token not in r.stdout + r.stderr for r in runs)


def test_deep_and_sampled_checks_find_wrong_bytes(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server)
    assert invoke("publish", "-w", bench.ws).exit_code == 0
    path = bench.on_server(bench.shas["P02_5s"])
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    assert invoke("publish", "-w", bench.ws, "--check").exit_code == 0  # presence alone cannot tell
    r = invoke("publish", "-w", bench.ws, "--deep")
    assert r.exit_code == 1 and "2 present, 0 missing, 1 corrupt" in r.stdout
    assert "corrupt on the server" in r.stdout and "P02_5s" in r.stdout and "--repair --deep" in r.stdout
    assert "read back 3 of 3 objects" in r.stdout
    r = invoke("publish", "-w", bench.ws, "--check", "--sample", "3", "--seed", "7", "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["corrupt"] == 1 and out["read"]["seed"] == 7 and out["read"]["objects"] == 3
    assert [c["name"] for c in out["clips"] if c["corrupt"]] == ["P02_5s"]
    r = invoke("publish", "-w", bench.ws, "--sample", "1")
    assert "--seed" in r.stdout and "read back 1 of 3 objects" in r.stdout


def test_read_back_usage_errors_exit_2(tmp_path, lfs_server):
    bench = make_bench(tmp_path, lfs_server, names=("P01_5s",))
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--sample", "2", "--deep"), "--sample and --deep")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--sample", "0"), "at least 1")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--seed", "4"), "--seed draws the --sample")
    assert_one_line_error(invoke("publish", "-w", bench.ws, "--deep", "--branch", "x"), "--branch")

"""A real LFS server on loopback for tests and benchmarks: giftless with local storage.

giftless (a dev extra) is a Flask app; it runs here in a child process under werkzeug's
threaded server, so a test can stop it, kill it, or start it again on the same port with the
same storage. Two switches make faults on purpose:

- `credentials=("user", "token")` demands Basic auth on the Batch API (the transfer URLs keep
  giftless's own signed headers), as hosted servers do;
- `die_after_puts=N` SIGKILLs the server when the (N+1)th object upload begins.

By default the storage is giftless's own LocalStorage, which overwrites objects in place
unverified and keeps wrong bytes it holds at the right size forever. `quarantine=True` uses
`teststorage.VerifiedLocalStorage` instead: verified atomic uploads, and an object whose
served bytes fail their oid is quarantined, so a repair can replace it (see teststorage.py).

    with LfsTestServer(tmp / "lfs") as server:
        url = server.url("org", "repo")            # set as lfs.url in the repository
        server.object_path("org", "repo", oid)    # where the object lands

Run by hand: `python -m synthcam.publish.testserver --storage DIR [--port N]` prints the port.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import PublishError

__all__ = ["LfsTestServer", "main"]

HOST = "127.0.0.1"


class LfsTestServer:
    """giftless in a child process, bound to 127.0.0.1 only."""

    def __init__(self, storage: Path, port: int = 0, credentials: tuple[str, str] | None = None,
                 die_after_puts: int | None = None, quarantine: bool = False) -> None:
        self.storage = Path(storage)
        self.quarantine = quarantine
        self.port = port
        self.credentials = credentials
        self.die_after_puts = die_after_puts
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 30.0) -> LfsTestServer:
        self.storage.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "synthcam.publish.testserver", "--storage", str(self.storage),
                "--port", str(self.port)]
        if self.die_after_puts is not None:
            argv += ["--die-after-puts", str(self.die_after_puts)]
        if self.quarantine:
            argv += ["--quarantine"]
        env = {**os.environ, "SYNTHCAM_LFS_CREDENTIALS": ":".join(self.credentials) if self.credentials else ""}
        log = open(self.storage.parent / f"{self.storage.name}.server.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=self.storage)
        log.close()
        line: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not line or not line[0].strip().isdigit():
            self.stop()
            raise PublishError(f"giftless did not start (is the dev extra installed? pip install 'synthcam[dev]'); "
                               f"see {log.name}")
        self.port = int(line[0])
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        self.stop()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def url(self, org: str, repo: str) -> str:
        return f"http://{HOST}:{self.port}/{org}/{repo}"

    def object_path(self, org: str, repo: str, oid: str) -> Path:
        return self.storage / org / repo / oid

    def __enter__(self) -> LfsTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the child process ----------------------------------------------------------------------

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _basic_auth_gate(app: Wsgi, user: str, password: str) -> Wsgi:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").endswith("/objects/batch") and environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("Content-Type", "application/vnd.git-lfs+json"),
                                                ("LFS-Authenticate", 'Basic realm="synthcam-test"')])
            return [b'{"message": "credentials required"}']
        return app(environ, start_response)

    return gate


def _dying_gate(app: Wsgi, puts: int) -> Wsgi:
    seen = [0]
    lock = threading.Lock()

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "PUT":
            with lock:
                seen[0] += 1
                if seen[0] > puts:
                    os.kill(os.getpid(), signal.SIGKILL)
        return app(environ, start_response)

    return gate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m synthcam.publish.testserver")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--die-after-puts", type=int)
    parser.add_argument("--quarantine", action="store_true", help="verified uploads, quarantine on read")
    args = parser.parse_args(argv)
    storage = ("synthcam.publish.teststorage:VerifiedLocalStorage" if args.quarantine
               else "giftless.storage.local_storage:LocalStorage")
    os.environ["GIFTLESS_CONFIG_STR"] = (
        "AUTH_PROVIDERS: ['giftless.auth.allow_anon:read_write']\n"
        "TRANSFER_ADAPTERS:\n  basic:\n    factory: giftless.transfer.basic_streaming:factory\n"
        f"    options:\n      storage_class: {storage}\n"
        f"      storage_options:\n        path: '{Path(args.storage).resolve()}'\n"
    )
    import logging
    import warnings

    warnings.simplefilter("ignore")
    from giftless.app import init_app
    from werkzeug.serving import make_server

    app = init_app()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    wsgi: Wsgi = app.wsgi_app
    if creds := os.environ.get("SYNTHCAM_LFS_CREDENTIALS"):
        user, _, password = creds.partition(":")
        wsgi = _basic_auth_gate(wsgi, user, password)
    if args.die_after_puts is not None:
        wsgi = _dying_gate(wsgi, args.die_after_puts)
    app.wsgi_app = wsgi  # type: ignore[method-assign]
    server = make_server(HOST, args.port, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

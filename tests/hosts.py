"""As on several hosts: how many `qcluster` processes the cluster tests start
(`worker_hosts()`, used by the `start_hosts` fixture in tests/conftest.py: each with its own
data directory) and gunicorn with several workers, on the test database.

The scaled CI pass (.ci/run) sets Q_REDIS_URL and CACHE_URL on the local Redis,
TEST_WORKER_HOSTS=2 and TEST_WEB_WORKERS=3.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings

from tests.cluster import ROOT, database_url


def worker_hosts() -> int:
    """How many `qcluster` processes a cluster test starts (TEST_WORKER_HOSTS, default 1)."""
    return max(1, int(os.environ.get("TEST_WORKER_HOSTS") or 1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess in its own process group (its children die with it), logging to a file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=os.environ
            | {
                "DATABASE_URL": database_url(),
                "SECRET_KEY": settings.SECRET_KEY,  # sessions are signed with it
                "DEBUG": "1",
                **env,
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the parent, which stops its workers; SIGKILL to the group after 20 s."""
        if self.alive:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()

    def tail(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()[-3000:]


def served_by(get_response):
    """Middleware of the gunicorn processes started here: which process answered."""

    def middleware(request):
        response = get_response(request)
        response["X-Served-By"] = str(os.getpid())
        return response

    return middleware


def start_gunicorn(tmp_path: Path, env: dict[str, str], workers: int = 3) -> tuple[Process, str]:
    """gunicorn as the Procfile's `web` runs it, with `workers` processes; returns it and its
    base URL once it answers."""
    port = free_port()
    web = Process(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "memorycrm.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",  # one shared path otherwise, for every gunicorn on the box
        ],
        env={
            "DJANGO_SETTINGS_MODULE": "tests.gunicorn_settings",
            "MEMORYCRM_DATA_DIR": str(settings.DATA_DIR),  # uploads, as this process sees them
            **env,
        },
        log_path=tmp_path / "gunicorn.log",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert web.alive, web.tail()
        try:
            if httpx.get(f"{url}/accounts/login/", timeout=5).status_code == 200:
                return web, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, web.tail()
        time.sleep(0.2)

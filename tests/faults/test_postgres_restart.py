"""PostgreSQL restarted under a stream of writes: the app answers 503 + Retry-After (never a
500) while the database is away, recovers by itself once it is back (CONN_HEALTH_CHECKS: no
storm of errors from connections the restart broke), and loses nothing it acknowledged.

The shared PostgreSQL server is never touched: the test starts a private PostgreSQL instance
in a temporary directory on a free loopback port (as the `postgres` OS user when run as root),
migrates a database there, serves the app from gunicorn (gthread, persistent connections, as in
production), streams API writes and public survey answers from client threads, runs
`pg_ctl restart -m fast` in the middle, and then counts rows.

It does not depend on the suite's database, so it runs once per CI run: in the PostgreSQL run
(DATABASE_URL=postgres://…), where the server binaries are known to be installed; a PostgreSQL
run in CI without them fails rather than skips.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


PG_BIN = postgres_bin()

pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="runs once per CI run, in the PostgreSQL run (it starts its own PostgreSQL)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A throw-away PostgreSQL instance: initdb in a temporary directory, loopback only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="memorycrm-faults-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        # The server refuses to run as root: run its tools as the postgres OS user then.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.directory, "postgres")

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
        )

    def pg_ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} "
            # The data is thrown away: no fsync (a fast restart flushes everything anyway).
            "-c fsync=off"
        )
        self.run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, *args
        )

    def start(self) -> None:
        self.run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.pg_ctl("start")

    def url(self, database: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if PG_BIN is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing in CI")
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    server = PrivatePostgres(PG_BIN)
    try:
        server.start()
        import psycopg

        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE memorycrm")
        yield server
    finally:
        server.stop()


SEED = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from knox.models import AuthToken
from customers.models import Customer
from surveys import services
from surveys.models import Survey

user = get_user_model().objects.create_user(username="fault-agent")
user.groups.add(Group.objects.get(name="Agent"))
survey = Survey.objects.get(name="What stood out?")
Customer.objects.bulk_create(
    Customer(name=f"Fault {i}", email=f"fault{i}@example.com") for i in range(COUNT)
)
customers = list(Customer.objects.filter(name__startswith="Fault ").order_by("pk"))
tokens = [
    services.create_invitation(survey=survey, customer=c, send=False).token for c in customers[1:]
]
print(json.dumps({
    "api_token": AuthToken.objects.create(user=user)[1],
    "customer": customers[0].pk,
    "survey_tokens": tokens,
}))
"""


def app_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url,
        "DEBUG": "1",  # static files from the finders: no collectstatic for a test
        "MEMORYCRM_DATA_DIR": str(data_dir),
        "DB_CONN_MAX_AGE": "60",  # persistent connections: the restart breaks them
        "SURVEY_RATE_LIMIT_PER_MINUTE": "0",  # every answer comes from 127.0.0.1
        "LOG_LEVEL": "ERROR",
    }


@pytest.fixture
def app_server(private_postgres, tmp_path):
    """Migrate and seed the private database, then serve it with gunicorn; yields
    (port, seed data)."""
    env = app_env(private_postgres.url("memorycrm"), tmp_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    seeded = subprocess.run(
        [*manage, "shell", "-c", SEED.replace("COUNT", "401")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "memorycrm.wsgi",
            "--bind",
            f"{HOST}:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                conn.request("GET", "/accounts/login/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        yield port, seed
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


@dataclass
class Attempt:
    kind: str  # "api" or "survey"
    key: int  # which logical write (its external_ref / its survey token)
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    retry_after: str | None


# The API's answer to a second write with the same external_ref (the model's constraint).
DUPLICATE = b"already has an interaction with this external reference"


@dataclass
class Stream:
    """Client threads posting API interactions and survey answers, each write retried (after
    a 503) until it is acknowledged."""

    port: int
    seed: dict
    attempts: list[Attempt] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # what an unexpected status said
    acknowledged: dict[str, set[int]] = field(
        default_factory=lambda: {"api": set(), "survey": set()}
    )
    stop: threading.Event = field(default_factory=threading.Event)
    running: threading.Event = field(default_factory=threading.Event)
    busy: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_key: int = 0

    def take(self) -> int | None:
        with self.lock:
            key = self.next_key
            self.next_key += 1
        return key if key // 2 < len(self.seed["survey_tokens"]) else None

    def request(self, conn: http.client.HTTPConnection, key: int) -> tuple[str, int, str | None]:
        if key % 2 == 0:
            kind, path = "api", "/api/v1/interactions/"
            body = json.dumps(
                {
                    "customer": self.seed["customer"],
                    "channel": "email",
                    "subject": f"Fault stream {key}",
                    "body": "Where is my order?",
                    "external_ref": f"fault-{key}",
                }
            )
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Token {self.seed['api_token']}",
            }
        else:
            kind, path = "survey", f"/s/{self.seed['survey_tokens'][key // 2]}/"
            body = urlencode({"rating": str(1 + key % 5), "answer": f"fault answer {key}"})
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        status = response.status
        if kind == "api" and status == 400 and DUPLICATE in content:
            # A retry of a write whose first attempt was stored after all: acknowledged.
            status = 201
        elif status not in (200, 201, 302, 503):
            with self.lock:
                self.refusals.append(f"{kind} {key}: {status} {content[:300]!r}")
        return kind, status, response.getheader("Retry-After")

    def client(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self.stop.is_set():
            if not self.running.wait(timeout=0.1):
                continue
            key = self.take()
            if key is None:
                break
            with self.lock:
                self.busy += 1
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    kind, status, retry_after = self.request(conn, key)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                    kind, status, retry_after = ("api" if key % 2 == 0 else "survey"), 0, None
                with self.lock:
                    self.attempts.append(
                        Attempt(kind, key, started, time.monotonic(), status, retry_after)
                    )
                if status in (201, 200, 302):
                    with self.lock:
                        self.acknowledged[kind].add(key)
                    break
                if status != 503:
                    break  # not retryable: the test fails on it
                time.sleep(0.2)  # Retry-After says 5 s; a test cannot wait that long per write
            with self.lock:
                self.busy -= 1
        conn.close()

    def pause(self) -> None:
        """Stop taking new writes and wait for those in flight."""
        self.running.clear()
        wait_until(lambda: self.busy == 0, 60)

    def count(self, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for a in self.attempts if a.started >= since)


def wait_until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stored(database_url: str) -> tuple[list[int], list[int]]:
    """The keys of the stream's interactions and survey answers found in the database."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        refs = conn.execute(
            "SELECT external_ref FROM customers_interaction WHERE external_ref LIKE 'fault-%'"
        ).fetchall()
        answers = conn.execute("SELECT answer FROM surveys_response").fetchall()
    return (
        [int(ref.removeprefix("fault-")) for (ref,) in refs],
        [int(answer.removeprefix("fault answer ")) for (answer,) in answers],
    )


def test_postgres_restart_mid_stream_loses_nothing_acknowledged(private_postgres, app_server):
    port, seed = app_server
    stream = Stream(port=port, seed=seed)
    clients = [threading.Thread(target=stream.client) for _ in range(6)]
    stream.running.set()
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: stream.count() >= 40, 60)
        # 1. In the middle of the stream.
        restart_began = time.monotonic()
        private_postgres.pg_ctl("restart", "-m", "fast")
        back = time.monotonic()
        wait_until(lambda: stream.count(since=back) >= 40, 60)
        # 2. While the app is idle: every persistent connection it holds is now broken, and
        # the next request on each must not be the one to find out.
        stream.pause()
        paused = time.monotonic()
        private_postgres.pg_ctl("restart", "-m", "fast")
        back_idle = time.monotonic()
        stream.running.set()
        wait_until(lambda: stream.count(since=back_idle) >= 40, 60)
    finally:
        stream.stop.set()
        for thread in clients:
            thread.join(timeout=60)

    attempts = stream.attempts
    during = [a for a in attempts if a.ended >= restart_began and a.started <= back]
    after = [a for a in attempts if back <= a.started < paused or a.started >= back_idle]
    unavailable = [a for a in attempts if a.status == 503]
    summary = (
        f"{len(attempts)} requests, {len(during)} across the restart, {len(unavailable)} got 503, "
        f"{len(after)} after the restarts; statuses {sorted({a.status for a in attempts})}; "
        f"unexpected: {stream.refusals[:3]}"
    )
    assert during, summary  # the stream really was running while PostgreSQL restarted
    # While the database was away: only 503 with Retry-After, never a 500 or a dropped request.
    assert all(a.status in (200, 201, 302, 503) for a in attempts), summary
    assert all(a.retry_after for a in unavailable), summary
    # Once it was back, every request succeeded: broken persistent connections were replaced
    # (CONN_HEALTH_CHECKS), not handed to the next request.
    assert all(a.status in (200, 201, 302) for a in after), summary

    api, answers = stored(private_postgres.url("memorycrm"))
    # Nothing acknowledged was lost, nothing was stored twice, nothing came from nowhere.
    assert stream.acknowledged["api"] <= set(api), summary
    assert stream.acknowledged["survey"] <= set(answers), summary
    assert len(api) == len(set(api)) and len(answers) == len(set(answers))
    attempted = {a.key for a in attempts}
    assert set(api) <= attempted and set(answers) <= attempted

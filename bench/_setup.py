"""Shared bootstrap for the benchmarks in bench/: Django settings, throw-away databases, timing.

Import this module before anything from Django or the apps (bench/ is on sys.path when a bench
runs as a script), then call `bench_database(name)` before touching the database.

A bench never touches real data. `bench_database("timeline")` points Django at a database of its
own, derived from DATABASE_URL (PostgreSQL: `<name>_bench_timeline` on the same server, dropped and
created afresh; SQLite when DATABASE_URL is unset: a file in a temporary directory), migrates it,
and removes it when the bench ends. `bench_database("search", extra=("large",))` adds a second
one, so two data sizes can be timed side by side (`use_database("large")`).
"""

from __future__ import annotations

import atexit
import copy
import gc
import http.client
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memorycrm.settings")
# Measure the production configuration whatever the shell says (the Makefile exports DEBUG=1):
# DEBUG off, but without the parts that need a deployment: a secret, HTTPS redirects,
# secure-only cookies, a collected static manifest (see bench_database).
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-insecure-key")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
for _name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(_name, "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

_REAL_DATABASE_URL = os.environ.get("DATABASE_URL", "")


def _postgres_url(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _postgres_admin(admin_url: str, statement: str, *names: str) -> None:
    """Run `statement` (with a {} for each database name) on the maintenance database."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*(sql.Identifier(name) for name in names)))


def _create_postgres_database(admin_url: str, name: str, *, template: str = "") -> None:
    if template:
        _postgres_admin(admin_url, "CREATE DATABASE {} TEMPLATE {}", name, template)
    else:
        _postgres_admin(admin_url, "CREATE DATABASE {}", name)
    # Throw-away data: commits need not wait for the disk (faster migrate and seeding; the
    # timed requests only read).
    _postgres_admin(admin_url, "ALTER DATABASE {} SET synchronous_commit = off", name)


def _drop_postgres_database(admin_url: str, name: str) -> None:
    from django.db import connections

    connections.close_all()
    _postgres_admin(admin_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


class CurrentDatabaseRouter:
    """Sends every query to the database alias set by `use_database()`.

    A bench that compares two data sizes keeps each in a database of its own and switches
    between them request by request, so both are timed interleaved, under the same load.
    """

    alias = "default"

    def db_for_read(self, model, **hints):
        return CurrentDatabaseRouter.alias

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return True


def use_database(alias: str) -> None:
    CurrentDatabaseRouter.alias = alias


def bench_database(bench: str, *, extra: tuple[str, ...] = (), keep: bool = False) -> str:
    """Set up Django on fresh, migrated databases for `bench`; return a description of them.

    `default` always; each alias in `extra` gets a database of its own too, and queries go to
    the one chosen with `use_database()`. Must be called before anything touches the database.
    With keep=True the databases are left behind for inspection.
    """
    import django

    real_url = _REAL_DATABASE_URL
    aliases = ("default", *extra)
    urls: dict[str, str] = {}
    if real_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        base = urlsplit(real_url).path.lstrip("/") or "memorycrm"
        admin_url = _postgres_url(real_url, "postgres")
        for alias in aliases:
            name = f"{base}_bench_{bench}" + ("" if alias == "default" else f"_{alias}")
            _postgres_admin(admin_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
            if not keep:
                atexit.register(_drop_postgres_database, admin_url, name)
            urls[alias] = _postgres_url(real_url, name)
        _create_postgres_database(admin_url, _db_name(urls["default"]))
        where = "PostgreSQL " + ", ".join(_db_name(url) for url in urls.values())
        where += " (throw-away, on the DATABASE_URL server)"
    elif not real_url or real_url.startswith("sqlite:"):
        directory = tempfile.mkdtemp(prefix=f"memorycrm-bench-{bench}-")
        if not keep:
            atexit.register(shutil.rmtree, directory, True)
        for alias in aliases:
            urls[alias] = f"sqlite:///{directory}/{alias}.sqlite3"
        where = f"SQLite {', '.join(f'{alias}.sqlite3' for alias in aliases)} in {directory} "
        where += "(throw-away)"
    else:
        raise SystemExit(f"bench: unsupported DATABASE_URL scheme: {real_url.split(':')[0]}")
    os.environ["DATABASE_URL"] = urls["default"]
    # One connection for the whole run, like a web worker with persistent connections.
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")

    django.setup()

    import dj_database_url
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import override_settings

    for alias in extra:
        # The default's configuration (OPTIONS and all), on another database.
        config = copy.deepcopy(settings.DATABASES["default"])
        config["NAME"] = dj_database_url.parse(urls[alias])["NAME"]
        settings.DATABASES[alias] = config
    overrides = {
        # DEBUG is off, so the settings pick the manifest static storage, which needs
        # collectstatic; the pages only need {% static %} to resolve a URL.
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    }
    if extra:
        overrides["DATABASE_ROUTERS"] = [CurrentDatabaseRouter()]
    override_settings(**overrides).enable()
    use_database("default")
    call_command("migrate", interactive=False, verbosity=0)

    # The other databases start as copies of the migrated default (migrating them would run
    # the data migrations against `default`, where they create their permissions).
    connections.close_all()
    default_name = settings.DATABASES["default"]["NAME"]
    for alias in extra:
        name = settings.DATABASES[alias]["NAME"]
        if vendor() == "postgresql":
            _create_postgres_database(admin_url, name, template=default_name)
        else:
            with sqlite3.connect(default_name) as source, sqlite3.connect(name) as target:
                source.backup(target)
            source.close()
            target.close()
    return where


def vendor() -> str:
    from django.db import connection

    return connection.vendor


def analyze(using: str = "default") -> None:
    """Bring the database to its steady state after seeding, as autovacuum would: fresh planner
    statistics, and on PostgreSQL the GIN pending list merged into the index (VACUUM does that;
    a plain ANALYZE does not)."""
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def explain(sql: str, using: str = "default") -> str:
    """The plan of a captured query: EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


def agent_client():
    """A test Client logged in as a fresh user in the Agent group."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user = get_user_model().objects.create_user(username="bench-agent")
    user.groups.add(Group.objects.get(name="Agent"))
    client = Client()
    client.force_login(user)
    return client, user


@dataclass
class Timing:
    median: float  # ms
    best: float  # ms


def time_requests(requests: list[Callable[[], object]], *, runs: int, warmup: int) -> list[Timing]:
    """Median and best wall time, in ms, of each of `requests` over `runs` calls.

    The requests are interleaved (A B B A A B …) rather than timed one after the other, so a
    burst of load from other processes on the machine hits them alike and cancels in a ratio.
    The heap left by setup, migrations and seeding is collected and frozen first, so the timed
    calls do not pay for full collections of it (a long-running worker's startup objects are
    old and rarely scanned); otherwise whichever figure is measured first looks slower.
    """
    gc.collect()
    gc.freeze()
    for _ in range(warmup):
        for request in requests:
            request()
    samples: list[list[float]] = [[] for _ in requests]
    for run in range(runs):
        order = list(enumerate(requests))
        for index, request in order if run % 2 == 0 else reversed(order):
            start = time.perf_counter()
            request()
            samples[index].append((time.perf_counter() - start) * 1000)
    return [Timing(statistics.median(s), min(s)) for s in samples]


def count_queries(request: Callable[[], object], using: str = "default") -> tuple[int, list[str]]:
    """The number of SQL queries one `request()` runs on database `using`, and their SQL."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connections[using]) as captured:
        request()
    return len(captured), [q["sql"] for q in captured.captured_queries]


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def result_line(name: str, metric: str, value: float, target: float, ok: bool) -> str:
    return f"RESULT {name} {metric}={value:.2f} target<={target:.1f} {'PASS' if ok else 'FAIL'}"


def start_gunicorn(
    app: str, *, host: str, port: int, workers: int, threads: int, env: dict, ready_path: str, log
) -> subprocess.Popen:
    """gunicorn (gthread) serving `app` ("module:application", a bench module) on `port`,
    once `ready_path` answers 200. Its output goes to the file `log`: a pipe nobody reads
    fills up and blocks the workers as soon as they log errors."""
    env = (
        os.environ
        | env
        | {
            # The project first, bench/ last: bench/interventions.py must not shadow the app.
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)]),
        }
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(ROOT),
            "--bind",
            f"{host}:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,  # `python -m` puts the working directory first on sys.path
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"gunicorn did not start:\n{log.read().decode()[-3000:]}")
    server.kill()
    raise SystemExit("gunicorn did not answer within 60 s")

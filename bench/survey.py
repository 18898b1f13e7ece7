"""Benchmark: throughput of the public survey answer endpoint vs a bare Django view.

One gunicorn run (gthread workers, on loopback) serves the real app plus a bare view
(`/bench/bare/`: csrf-exempt, returns "ok", touches no database) through the same Django stack
and middleware. A load generator in other processes posts to both, one after the other, with the
same concurrency and the same form body:

- bare: N POSTs to /bench/bare/;
- answer: N POSTs to /s/<token>/, one per fresh invitation (each link works once), plus a
  duplicate POST for every 10th token, sent at the same time from another connection (a double
  click, two tabs) — it must not create a second response.

The load generator is a Python client in two processes (threads with keep-alive connections):
neither wrk nor locust is a dependency of the project, and wrk cannot stop after exactly N
requests, which single-use links need. The client costs CPU on the same machine, the same for
both endpoints, so the ratio is conservative. The public pages' per-IP rate limit is switched
off for the run: every request comes from 127.0.0.1.

Then the database is checked: every answer that got a success status has exactly its response
(rating and text as posted): "lost" counts those without; "duplicated" counts invitations
with more than one response, and responses whose text is not the first one posted for it.

    python bench/survey.py             # on DATABASE_URL (PostgreSQL), else SQLite
    python bench/survey.py --quick     # tiny sizes, for the smoke test

Ends with `RESULT survey ratio=<answer/bare> target>=0.5 PASS|FAIL` (FAIL if any response was
lost or duplicated).
"""

from __future__ import annotations

import os

# --- Server mode: gunicorn imports this module as `survey:application` ----------------------
if os.environ.get("SURVEY_BENCH_SERVER") == "1":
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpRequest, HttpResponse
    from django.test.utils import override_settings
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def bare(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    urlpatterns = [path("bench/bare/", bare), path("", include("memorycrm.urls"))]
    override_settings(
        ROOT_URLCONF=__name__,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ).enable()
    application = get_wsgi_application()

# --- Bench mode -------------------------------------------------------------------------------
else:
    import argparse
    import http.client
    import socket
    import subprocess
    import sys
    import threading
    import time
    from collections import Counter
    from multiprocessing import Process, Queue
    from pathlib import Path
    from urllib.parse import urlencode

    import _setup

TARGET = 0.5
HOST = "127.0.0.1"


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--requests", type=int, default=3000, help="answers (= bare requests)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 60
        args.connections = 4
    return args


def body(i: int) -> str:
    return urlencode({"rating": str(1 + i % 5), "answer": f"bench answer {i}"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def seed(n: int) -> list[str]:
    """n customers, each with one unsent invitation; returns the raw tokens in order."""
    from customers.models import Customer
    from surveys import services
    from surveys.models import Survey

    survey = Survey.objects.get(name="What stood out?")
    Customer.objects.bulk_create(
        Customer(name=f"Bench {i}", email=f"bench{i}@example.com") for i in range(n)
    )
    tokens = []
    for customer in Customer.objects.filter(name__startswith="Bench ").order_by("id"):
        result = services.create_invitation(survey=survey, customer=customer, send=False)
        tokens.append(result.token)
    return tokens


def start_server(port: int, args) -> subprocess.Popen:
    env = os.environ.copy()
    env.update(
        SURVEY_BENCH_SERVER="1",
        SURVEY_RATE_LIMIT_PER_MINUTE="0",  # one client IP for everything: no per-IP budget
        # The project first, bench/ last: bench/interventions.py must not shadow the app.
        PYTHONPATH=os.pathsep.join([str(_setup.ROOT), str(Path(__file__).resolve().parent)]),
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(_setup.ROOT),
            "--bind",
            f"{HOST}:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
            "survey:application",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/bench/bare/")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit(f"gunicorn did not start:\n{server.stderr.read()}")
    server.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


# --- Python load generator --------------------------------------------------------------------


def _client_process(port: int, jobs: list[tuple[int, str, str]], threads: int, out: Queue) -> None:
    """Send `jobs` (index, path, body) over `threads` keep-alive connections; put back
    [(index, status)] and the wall time."""
    results: list[tuple[int, int]] = []
    lock = threading.Lock()
    cursor = iter(jobs)

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        while True:
            with lock:
                job = next(cursor, None)
            if job is None:
                break
            index, path, payload = job
            for _attempt in range(3):
                try:
                    conn.request("POST", path, body=payload, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=60)
                    status = 0
            with lock:
                results.append((index, status))
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(results)


def run_python(port: int, jobs: list[tuple[int, str, str]], connections: int) -> tuple[float, list]:
    """Split the jobs over two client processes; returns (seconds, [(index, status)])."""
    processes = 2 if connections >= 2 else 1
    queue: Queue = Queue()
    # Round-robin, so the duplicate of a token (next to it in the list) goes to the other
    # process and races the original.
    shares = [jobs[p::processes] for p in range(processes)]
    workers = [
        Process(target=_client_process, args=(port, share, connections // processes, queue))
        for share in shares
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    results = [r for _ in workers for r in queue.get()]
    elapsed = time.perf_counter() - start
    for w in workers:
        w.join()
    return elapsed, results


# --- Checks -----------------------------------------------------------------------------------


def check(tokens: list[str], answer_results: list[tuple[int, int]]) -> dict:
    from surveys import tokens as token_lib
    from surveys.models import Invitation, Response

    ok_statuses = {200, 302}
    succeeded = {index for index, status in answer_results if status in ok_statuses}
    failed = Counter(status for _, status in answer_results if status not in ok_statuses)
    by_hash = {
        h: (inv_id, answered)
        for h, inv_id, answered in Invitation.objects.values_list("token_hash", "pk", "answered_at")
    }
    responses = {
        r.invitation_id: r for r in Response.objects.only("invitation_id", "rating", "answer")
    }
    per_invitation = Counter(Response.objects.values_list("invitation_id", flat=True))
    lost = duplicated = 0
    for index in succeeded:
        inv_id, _ = by_hash[token_lib.hash_token(tokens[index])]
        response = responses.get(inv_id)
        if response is None:
            lost += 1
        elif response.rating != 1 + index % 5 or response.answer != f"bench answer {index}":
            duplicated += 1  # another submit's content replaced or raced the first
    duplicated += sum(1 for n in per_invitation.values() if n > 1)
    return {
        "succeeded": len(succeeded),
        "failed": dict(failed),
        "responses": Response.objects.count(),
        "lost": lost,
        "duplicated": duplicated,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    where = _setup.bench_database("survey" + ("_quick" if args.quick else ""), keep=args.keep_db)
    tokens = seed(args.requests)
    from django.db import connections

    _setup.analyze()
    connections.close_all()

    # Answer jobs: each token once, plus a duplicate right after every 10th (same index: the
    # same content, so a duplicate that slipped through would show as two responses).
    answer_jobs = []
    for i, token in enumerate(tokens):
        answer_jobs.append((i, f"/s/{token}/", body(i)))
        if i % 10 == 0:
            answer_jobs.append((i, f"/s/{token}/", body(i)))
    bare_jobs = [(i, "/bench/bare/", body(i)) for i in range(len(answer_jobs))]

    port = free_port()
    server = start_server(port, args)
    try:
        # Warm up both paths (imports, template loading, connections) before timing.
        run_python(port, bare_jobs[: 4 * args.connections], args.connections)
        bare_s, bare_results = run_python(port, bare_jobs, args.connections)
        answer_s, answer_results = run_python(port, answer_jobs, args.connections)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    bare_ok = sum(1 for _, status in bare_results if status == 200)
    bare_rps = len(bare_jobs) / bare_s
    answer_rps = len(answer_jobs) / answer_s
    ratio = answer_rps / bare_rps
    checked = check(tokens, answer_results)
    print(f"survey bench on {where}")
    print(
        f"gunicorn gthread {args.workers}x{args.threads} on loopback; Python load generator, "
        f"{args.connections} keep-alive connections in 2 processes; rate limit off"
    )
    print(
        _setup.table(
            ["endpoint", "requests", "seconds", "req/s", "ok"],
            [
                ["bare view", len(bare_jobs), f"{bare_s:.2f}", f"{bare_rps:.0f}", bare_ok],
                [
                    "answer /s/<token>/",
                    len(answer_jobs),
                    f"{answer_s:.2f}",
                    f"{answer_rps:.0f}",
                    checked["succeeded"],
                ],
            ],
        )
    )
    print(
        f"answers: {len(tokens)} tokens, {len(answer_jobs) - len(tokens)} duplicate submits; "
        f"responses stored {checked['responses']}; lost {checked['lost']}; "
        f"duplicated {checked['duplicated']}; failed statuses {checked['failed'] or 'none'}"
    )
    ok = (
        ratio >= TARGET
        and checked["lost"] == 0
        and checked["duplicated"] == 0
        and checked["responses"] == len(tokens)
    )
    print(f"RESULT survey ratio={ratio:.2f} target>={TARGET} {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

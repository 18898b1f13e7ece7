"""Benchmark: the app under a mixed load, with a real worker, on gunicorn and PostgreSQL.

One gunicorn run (gthread workers, on loopback) serves the real app; a real django-q2 cluster
(`manage.py qcluster`, the sentiment model loaded and warmed before timing) scores what the load
writes. A load generator in two other processes (threads with keep-alive connections, like
bench/survey.py: neither wrk nor locust is a dependency, and single-use survey links need a
client that knows which token it has used) runs, for `--duration` seconds, a mix of:

- 70 % timeline reads, as an agent (session cookie): half the customer page (its first
  timeline page), half the HTMX fragment of the next timeline page (`?cursor=`);
- 20 % interaction writes: `POST /api/v1/interactions/` (token auth), sentiment pending;
- 10 % survey answers: `POST /s/<token>/`, each with a fresh invitation's token.

Baseline, in the same run and before the mix: the same clients doing timeline reads only, for a
fifth of the duration (at least 5 s), with the worker idle. The ratio printed is the mix's
timeline-read p95 over the baseline's: what the writes and the worker cost the readers.

After the load stops: the time until the sentiment queue has drained (every interaction scored,
the task queue empty), then checks in the database: every acknowledged write and answer is
stored once. Errors are responses with an unexpected status (reads 200, writes 201, answers 302)
and requests that got no answer. The public pages' per-IP rate limit is off for the run: every
request comes from 127.0.0.1.

    python bench/load.py                         # on DATABASE_URL (PostgreSQL), else SQLite
    python bench/load.py --duration 60           # seconds of mixed load (default 150)
    python bench/load.py --model PATH.pt         # the model (default: newest in the model dir)
    python bench/load.py --quick                 # a few seconds, for the smoke test

Ends with `RESULT load errors=<n> target<=0 PASS|FAIL` (FAIL also if the queue did not drain,
or a write was lost or stored twice).
"""

from __future__ import annotations

import os

# --- Server mode: gunicorn imports this module as `load:application` --------------------------
if os.environ.get("LOAD_BENCH_SERVER") == "1":
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.test.utils import override_settings

    # DEBUG is off, so the settings pick the manifest static storage, which needs
    # collectstatic; the pages only need {% static %} to resolve a URL.
    override_settings(
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
    import json
    import random
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import threading
    import time
    from collections import Counter
    from datetime import timedelta
    from multiprocessing import Process, Queue
    from pathlib import Path
    from urllib.parse import urlencode

    import _setup

HOST = "127.0.0.1"
MIX = (("read", 70), ("write", 20), ("answer", 10))
EXPECTED = {"read": 200, "write": 201, "answer": 302}


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    parser.add_argument("--duration", type=float, default=150.0, help="seconds of mixed load")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--history", type=int, default=40, help="interactions per customer")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--q-workers", type=int, default=1, help="django-q2 workers")
    parser.add_argument("--model", type=Path, help="model.pt (default: newest in the model dir)")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 6.0
        args.customers = 20
        args.history = 10
        args.connections = 4
        args.drain_timeout = 300.0
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- Data -------------------------------------------------------------------------------------


def seed(args, answers: int) -> dict:
    """Customers with a scored history, an agent (session and API token), and one unsent
    survey invitation per expected answer (each on a customer of its own: the survey's
    frequency limit)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.utils import timezone
    from knox.models import AuthToken

    from customers import selectors
    from customers.models import Customer, Interaction
    from surveys import services
    from surveys.models import Survey

    user = get_user_model().objects.create_user(username="load-agent")
    user.groups.add(Group.objects.get(name="Agent"))
    client = Client()
    client.force_login(user)

    rng = random.Random(7)
    Customer.objects.bulk_create(
        Customer(name=f"Load {i}", email=f"load{i}@example.com") for i in range(args.customers)
    )
    customers = list(Customer.objects.filter(name__startswith="Load ").order_by("pk"))
    now = timezone.now()
    labels = [("positive", 0.8), ("neutral", 0.0), ("negative", -0.7)]
    rows = []
    for customer in customers:
        for j in range(args.history):
            label, score = labels[rng.randrange(3)]
            rows.append(
                Interaction(
                    customer=customer,
                    channel="email",
                    occurred_at=now - timedelta(days=j, minutes=rng.randrange(600)),
                    subject=f"History {j}",
                    body="The customer asked about the order and got an answer.",
                    sentiment_label=label,
                    sentiment_score=score,
                    sentiment_confidence=0.9,
                    sentiment_model="seed",
                    scored_at=now,
                )
            )
    Interaction.objects.bulk_create(rows, batch_size=2000)
    cursors = {c.pk: selectors.timeline_page(customer=c).next_cursor for c in customers}

    survey = Survey.objects.get(name="What stood out?")
    Customer.objects.bulk_create(
        Customer(name=f"Answer {i}", email=f"answer{i}@example.com") for i in range(answers)
    )
    tokens = [
        services.create_invitation(survey=survey, customer=c, send=False).token
        for c in Customer.objects.filter(name__startswith="Answer ").order_by("pk")
    ]
    return {
        "session": client.cookies["sessionid"].value,
        "api_token": AuthToken.objects.create(user=user)[1],
        "customers": [[pk, cursor] for pk, cursor in cursors.items()],
        "tokens": tokens,
    }


# --- Processes --------------------------------------------------------------------------------


def start_server(port: int, args, log) -> subprocess.Popen:
    env = {
        "LOAD_BENCH_SERVER": "1",
        "SURVEY_RATE_LIMIT_PER_MINUTE": "0",  # one client IP for everything: no per-IP budget
    }
    return _setup.start_gunicorn(
        "load:application",
        host=HOST,
        port=port,
        workers=args.workers,
        threads=args.threads,
        env=env,
        ready_path="/accounts/login/",
        log=log,
    )


def start_cluster(args) -> subprocess.Popen:
    env = os.environ | {"Q_WORKERS": str(args.q_workers), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=_setup.ROOT,
        env=env,
        start_new_session=True,  # its own process group: guard, workers, monitor, pusher
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen, *, group: bool = False) -> None:
    if process.poll() is None:
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=20)


# --- Load generator ---------------------------------------------------------------------------


def _request(conn, kind: str, data: dict, rng: random.Random, tokens: list[str], n: int):
    """Send one request of `kind`; returns (status, key) — key identifies a write or answer."""
    if kind == "answer" and not tokens:
        kind = "read"  # out of fresh links: counted as a read, reported below
    if kind == "read":
        pk, cursor = rng.choice(data["customers"])
        headers = {"Cookie": f"sessionid={data['session']}"}
        path = f"/customers/{pk}/"
        if cursor and n % 2:
            path += f"?cursor={cursor}"
            headers["HX-Request"] = "true"
        conn.request("GET", path, headers=headers)
        key = ""
    elif kind == "write":
        pk, _ = rng.choice(data["customers"])
        key = f"load-{os.getpid()}-{threading.get_ident()}-{n}"
        body = {
            "customer": pk,
            "channel": "chat",
            "subject": "Load test",
            "body": rng.choice(TEXTS),
            "external_ref": key,
        }
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Token {data['api_token']}",
        }
        conn.request("POST", "/api/v1/interactions/", body=json.dumps(body), headers=headers)
    else:
        key = tokens.pop()
        body = urlencode({"rating": str(1 + n % 5), "answer": f"load answer {n}"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", f"/s/{key}/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return kind, response.status, key


TEXTS = [
    "Thanks a lot, the replacement arrived today and works perfectly.",
    "This is the third time I write. Nobody answers and the parcel is still missing.",
    "Can you send me the invoice for March again, please?",
    "Really disappointed with the support, the problem is not solved.",
    "Great call with the team, everything is clear now.",
]


def _client_process(port, data, tokens, mix, seconds, threads, seed_, out: Queue) -> None:
    """Run `threads` keep-alive clients for `seconds`; put back [(kind, start, ms, status,
    key)] (start relative to the process's own start)."""
    results = []
    lock = threading.Lock()
    begin = time.perf_counter()
    deadline = begin + seconds
    kinds = [k for k, _ in mix]
    weights = [w for _, w in mix]

    def worker(index: int) -> None:
        rng = random.Random(seed_ * 1000 + index)
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        n = 0
        local = []
        while time.perf_counter() < deadline:
            kind = rng.choices(kinds, weights)[0]
            own = []
            if kind == "answer":
                with lock:
                    own = tokens[-1:]
                    del tokens[-1:]
            start = time.perf_counter()
            try:
                kind, status, key = _request(conn, kind, data, rng, own, n)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                status, key = 0, ""
            local.append((kind, start - begin, (time.perf_counter() - start) * 1000, status, key))
            n += 1
        conn.close()
        with lock:
            results.extend(local)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(results)


def run_load(port, data, mix, seconds: float, connections: int) -> tuple[float, list]:
    """Split the connections (and the survey tokens) over two client processes."""
    processes = 2 if connections >= 2 else 1
    queue: Queue = Queue()
    shares = [data["tokens"][p::processes] for p in range(processes)]
    data = {**data, "tokens": []}
    workers = [
        Process(
            target=_client_process,
            args=(port, data, shares[p], mix, seconds, connections // processes, p + 1, queue),
        )
        for p in range(processes)
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    results = [r for _ in workers for r in queue.get()]
    elapsed = time.perf_counter() - start
    for w in workers:
        w.join()
    return elapsed, results


# --- Figures and checks -----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def drain(timeout: float) -> tuple[float | None, int]:
    """Seconds until nothing is pending (every interaction scored, the task queue empty);
    None if not within `timeout`. Also returns what was pending when the load stopped."""
    from django.db import connections
    from django_q.models import OrmQ

    from customers.models import Interaction

    connections.close_all()
    pending = Interaction.objects.sentiment_pending()
    at_stop = pending.count()
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        # Scheduled tasks (a sweep) may pass through the queue: only undelivered ones count.
        if not pending.exists() and not OrmQ.objects.exists():
            return time.perf_counter() - start, at_stop
        time.sleep(0.5)
    return None, at_stop


def check(results: list) -> dict:
    """Every acknowledged write and answer is stored, once."""
    from customers.models import Interaction
    from surveys import tokens as token_lib
    from surveys.models import Invitation, Response

    written = {key for kind, _, _, status, key in results if kind == "write" and status == 201}
    stored = Counter(
        Interaction.objects.filter(external_ref__startswith="load-").values_list(
            "external_ref", flat=True
        )
    )
    answered = {key for kind, _, _, status, key in results if kind == "answer" and status == 302}
    hashes = {token_lib.hash_token(token) for token in answered}
    invitation_ids = set(
        Invitation.objects.filter(token_hash__in=hashes).values_list("pk", flat=True)
    )
    responses = Counter(
        Response.objects.filter(invitation_id__in=invitation_ids).values_list(
            "invitation_id", flat=True
        )
    )
    return {
        "lost": len(written - set(stored))
        + len(invitation_ids - set(responses))
        + (len(answered) - len(invitation_ids)),
        "duplicated": sum(1 for n in stored.values() if n > 1)
        + sum(1 for n in responses.values() if n > 1),
        "unscored": Interaction.objects.sentiment_pending().count(),
    }


def summarize(results: list, seconds: float) -> dict:
    by_kind: dict[str, list] = {kind: [] for kind, _ in MIX}
    for row in results:
        by_kind[row[0]].append(row)
    summary = {}
    for kind, rows in by_kind.items():
        ms = [row[2] for row in rows]
        summary[kind] = {
            "n": len(rows),
            "rps": len(rows) / seconds,
            "p50": percentile(ms, 0.5),
            "p95": percentile(ms, 0.95),
            "errors": sum(1 for row in rows if row[3] != EXPECTED[kind]),
            "statuses": Counter(row[3] for row in rows if row[3] != EXPECTED[kind]),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    where = _setup.bench_database("load" + ("_quick" if args.quick else ""), keep=args.keep_db)

    import sentiment  # bench/sentiment.py: the same model lookup and registration

    model_path = sentiment.find_model(args.model)
    sentiment.register(model_path)
    # Fresh links for a generous 25 answers a second (10 % of 250 requests a second).
    data = seed(args, answers=max(100, int(args.duration * 25)))
    _setup.analyze()
    from django.db import connections

    connections.close_all()

    with tempfile.TemporaryFile() as server_log:  # gunicorn's output
        port = free_port()
        server = start_server(port, args, server_log)
        cluster = start_cluster(args)
        try:
            # Warm-up, not timed: the worker loads the model (one write, scored), and the web
            # workers import and render every path once.
            run_load(port, data | {"tokens": data["tokens"][:4]}, MIX, 2.0, 2)
            warm, _ = drain(600)
            if warm is None:
                raise SystemExit("bench: the worker scored nothing within 600 s (model?)")
            data["tokens"] = data["tokens"][4:]
            base_s, baseline = run_load(
                port, data, (("read", 1),), max(5.0, args.duration / 5), args.connections
            )
            load_s, results = run_load(port, data, MIX, args.duration, args.connections)
            drained, pending_at_stop = drain(args.drain_timeout)
        finally:
            stop(server)
            stop(cluster, group=True)

    connections.close_all()
    base = summarize(baseline, base_s)["read"]
    mixed = summarize(results, load_s)
    checked = check(results)
    errors = sum(s["errors"] for s in mixed.values())
    total = sum(s["n"] for s in mixed.values())
    ratio = mixed["read"]["p95"] / base["p95"]

    print(f"load bench on {where}")
    print(
        f"gunicorn gthread {args.workers}x{args.threads} on loopback, django-q2 cluster with "
        f"{args.q_workers} worker(s) (model {model_path.parent.name}); Python load generator, "
        f"{args.connections} keep-alive connections in 2 processes; rate limit off"
    )
    print(
        f"{args.customers} customers x {args.history} interactions; mixed load for "
        f"{load_s:.0f} s: {total} requests, {total / load_s:.0f} req/s"
    )
    rows = [
        [
            "timeline reads alone (baseline)",
            base["n"],
            f"{base['rps']:.1f}",
            f"{base['p50']:.0f}",
            f"{base['p95']:.0f}",
            base["errors"],
        ]
    ]
    for kind, label in (
        ("read", "timeline reads (page / fragment)"),
        ("write", "interaction writes (API)"),
        ("answer", "survey answers (public)"),
    ):
        s = mixed[kind]
        rows.append(
            [label, s["n"], f"{s['rps']:.1f}", f"{s['p50']:.0f}", f"{s['p95']:.0f}", s["errors"]]
        )
    print(_setup.table(["requests", "n", "req/s", "p50 ms", "p95 ms", "errors"], rows))
    statuses = sum((s["statuses"] for s in mixed.values()), Counter())
    if statuses:
        print(f"unexpected statuses (0 = no answer): {dict(statuses)}")
    print(
        f"timeline read p95 under the mix / alone = {mixed['read']['p95']:.0f} / "
        f"{base['p95']:.0f} ms = {ratio:.2f}"
    )
    drained_text = (
        f"{drained:.1f} s" if drained is not None else f"NOT within {args.drain_timeout:.0f} s"
    )
    print(
        f"sentiment queue: {pending_at_stop} interactions pending when the load stopped, drained "
        f"in {drained_text}; unscored now {checked['unscored']}"
    )
    print(f"writes and answers: lost {checked['lost']}, stored twice {checked['duplicated']}")
    ok = (
        errors == 0
        and drained is not None
        and checked["unscored"] == 0
        and checked["lost"] == 0
        and checked["duplicated"] == 0
    )
    print(f"RESULT load errors={errors} target<=0 {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: throughput of the public survey answer endpoint vs a bare Django view.

One gunicorn run (gthread workers, on loopback) serves the real app plus two bench views
through the same Django stack and middleware: a bare view (`/bench/bare/`: csrf-exempt,
returns "ok", touches no database), the baseline the issue names; and, for information, a
one-row write (`/bench/one-row/`: stores the posted text with one INSERT in its own
transaction, returns "ok"), the least any answer must do, so the run shows how far the answer
is from that floor. A load generator in two other processes (threads on keep-alive
connections) posts the same form body to all three, with the same connections:

- bare and one-row: POSTs to their paths;
- answer: one POST to /s/<token>/ per fresh invitation (each link works once), plus a duplicate
  POST for every 10th token, sent at the same time from the other client process (a double
  click, two tabs) — it must not create a second response. All get the same request count.

Fair on a shared machine: after a warm-up of every path, the run is cut into rounds that
alternate the endpoints (bare, one-row, answer, then answer, one-row, bare, …), so a burst of
load from other processes hits all alike, and a round's clock runs from the clients' first
request to their last (starting the client processes is outside it). The ratio is the
answers' requests/s over the bare view's, over all rounds; the per-round ratios show how
steady that was.

The public pages' per-IP rate limit stays on, raised to 10^9 requests a minute
(SURVEY_RATE_LIMIT_PER_MINUTE in the server's environment): every request comes from
127.0.0.1, and counting it is part of every answer's cost.

The client is Python (neither wrk nor locust is a dependency of the project, and wrk cannot
stop after exactly N requests, which single-use links need). It shares the machine's CPUs with
the server and costs about as much per request for either endpoint, which makes the ratio
somewhat kinder than a client in C would. So the bench also reports, from /proc (Linux), the
CPU time per request of the client processes, the gunicorn workers and the PostgreSQL backends,
and the server-side ratio (bare / answer, gunicorn + PostgreSQL CPU only). If a request gets no
answer within TIMEOUT seconds it is sent again and the run says so (its round is timed long).

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
    from django.db import connection
    from django.http import HttpRequest, HttpResponse
    from django.test.utils import override_settings
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def bare(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    @csrf_exempt
    def one_row(request: HttpRequest) -> HttpResponse:
        """The least any answer must do: store the posted text, durably, in one statement."""
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_one_row (answer) VALUES (%s)", [request.POST.get("answer", "")]
            )
        return HttpResponse("ok")

    urlpatterns = [
        path("bench/bare/", bare),
        path("bench/one-row/", one_row),
        path("", include("memorycrm.urls")),
    ]
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
    import resource
    import socket
    import statistics
    import subprocess
    import sys
    import tempfile
    import threading
    import time
    from collections import Counter
    from multiprocessing import Process, Queue
    from urllib.parse import urlencode

    import _setup

TARGET = 0.5
# bare: the baseline the issue names; one_row: for information, the least an answer must do
# (store the text in one INSERT), so the run shows how close to that floor the answer is.
ENDPOINTS = ("bare", "one_row", "answer")
HOST = "127.0.0.1"
RATE_LIMIT = 10**9  # per minute: on, but never reached by one client IP
TIMEOUT = 20  # seconds a client waits for an answer before it sends the request again


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--requests", type=int, default=3000, help="answers (= bare requests)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per endpoint")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 60
        args.rounds = 2
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


def start_server(port: int, args, log) -> subprocess.Popen:
    env = {
        "SURVEY_BENCH_SERVER": "1",
        "SURVEY_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
    }
    return _setup.start_gunicorn(
        "survey:application",
        host=HOST,
        port=port,
        workers=args.workers,
        threads=args.threads,
        env=env,
        ready_path="/bench/bare/",
        log=log,
    )


# --- Python load generator --------------------------------------------------------------------


def _send(port: int, jobs: list[tuple[int, str, str]], threads: int) -> tuple[list, int]:
    """POST `jobs` (index, path, body) over `threads` keep-alive connections; returns
    [(index, status)] and how many requests had to be sent again (connection error or no
    answer within TIMEOUT seconds: such a round's timing is suspect)."""
    results: list[tuple[int, int]] = []
    retries = 0
    lock = threading.Lock()
    cursor = iter(jobs)

    def worker() -> None:
        nonlocal retries
        conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
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
                    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
                    status = 0
                    with lock:
                        retries += 1
            with lock:
                results.append((index, status))
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, retries


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _client_process(port: int, threads: int, inbox: Queue, outbox: Queue) -> None:
    """Run each batch of jobs put in `inbox` (None stops); put back (results, retries, start,
    end, cpu seconds): perf_counter is the system-wide monotonic clock, comparable across
    processes."""
    while (jobs := inbox.get()) is not None:
        cpu, start = _cpu_self(), time.perf_counter()
        results, retries = _send(port, jobs, threads)
        outbox.put((results, retries, start, time.perf_counter(), _cpu_self() - cpu))


class Clients:
    """Two client processes, started once; `run(jobs)` splits the jobs between them
    round-robin, so the duplicate of a token (next to it in the list) goes to the other
    process and races the original. Returns (seconds, [(index, status)], client CPU s,
    retries)."""

    def __init__(self, port: int, connections: int) -> None:
        self.count = 2 if connections >= 2 else 1
        self.outbox: Queue = Queue()
        self.inboxes = [Queue() for _ in range(self.count)]
        self.processes = [
            Process(
                target=_client_process,
                args=(port, connections // self.count, inbox, self.outbox),
                daemon=True,
            )
            for inbox in self.inboxes
        ]
        for process in self.processes:
            process.start()

    def run(self, jobs: list[tuple[int, str, str]]) -> tuple[float, list, float, int]:
        for p, inbox in enumerate(self.inboxes):
            inbox.put(jobs[p :: self.count])
        reports = [self.outbox.get() for _ in self.inboxes]
        seconds = max(r[3] for r in reports) - min(r[2] for r in reports)
        results = [x for r in reports for x in r[0]]
        return seconds, results, sum(r[4] for r in reports), sum(r[1] for r in reports)

    def stop(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for process in self.processes:
            process.join(timeout=10)


# --- Server CPU, from /proc -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


class ServerCPU:
    """CPU seconds of the gunicorn processes and of the database server's backends serving the
    bench database (PostgreSQL on this machine; None where it cannot be measured). SQLite runs
    inside the web processes: its share is in theirs, and the database's own is 0."""

    def __init__(self, server: subprocess.Popen) -> None:
        from django.db import connection

        self.server = server
        self.in_process = connection.vendor == "sqlite"

    def _backends(self) -> list[int]:
        from django.db import connection

        if connection.vendor != "postgresql":
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return [row[0] for row in cursor.fetchall()]

    def sample(self) -> dict[str, dict[int, float | None]]:
        return {
            "gunicorn": {
                pid: _proc_cpu(pid) for pid in [self.server.pid, *_children(self.server.pid)]
            },
            "database": {pid: _proc_cpu(pid) for pid in self._backends()},
        }

    def spent(self, before: dict, after: dict) -> dict[str, float | None]:
        spent: dict[str, float | None] = {}
        for part, now in after.items():
            if part == "database" and self.in_process:
                spent[part] = 0.0
            elif not now or any(v is None for v in now.values()):
                spent[part] = None
            else:
                # A process that appeared during the round (a new database connection) counts
                # whole.
                spent[part] = sum(v - (before[part].get(pid) or 0.0) for pid, v in now.items())
        return spent


# --- Checks -----------------------------------------------------------------------------------


def check(tokens: list[str], answer_results: list[tuple[int, int]]) -> dict:
    from surveys import tokens as token_lib
    from surveys.models import Invitation, Response

    ok_statuses = {200, 302}
    succeeded = {index for index, status in answer_results if status in ok_statuses}
    failed = Counter(status for _, status in answer_results if status not in ok_statuses)
    by_hash = dict(Invitation.objects.values_list("token_hash", "pk"))
    responses = {
        r.invitation_id: r for r in Response.objects.only("invitation_id", "rating", "answer")
    }
    per_invitation = Counter(Response.objects.values_list("invitation_id", flat=True))
    lost = duplicated = 0
    for index in succeeded:
        response = responses.get(by_hash[token_lib.hash_token(tokens[index])])
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


def answer_jobs(tokens: list[str], indexes: range) -> list[tuple[int, str, str]]:
    """Each token once, plus a duplicate right after every 10th (same index: the same content,
    so a duplicate that slipped through would show as two responses)."""
    jobs = []
    for i in indexes:
        jobs.append((i, f"/s/{tokens[i]}/", body(i)))
        if i % 10 == 0:
            jobs.append((i, f"/s/{tokens[i]}/", body(i)))
    return jobs


def bare_jobs(count: int) -> list[tuple[int, str, str]]:
    return [(i, "/bench/bare/", body(i)) for i in range(count)]


def one_row_jobs(count: int) -> list[tuple[int, str, str]]:
    return [(i, "/bench/one-row/", body(i)) for i in range(count)]


def create_one_row_table() -> None:
    """The table the one-row view writes to: an id and the text, nothing else."""
    from django.db import connection

    identity = (
        "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        if connection.vendor == "postgresql"
        else "INTEGER PRIMARY KEY"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE bench_one_row (id {identity}, answer text NOT NULL)")


def _per_request_ms(seconds: float | None, requests: int) -> str:
    return "n/a" if seconds is None else f"{seconds / requests * 1000:.2f}"


def measure(args, tokens: list[str], warmup: int, log) -> dict:
    """Serve, warm up, then time the alternating rounds; returns the totals per endpoint, the
    answers' statuses, the per-round ratios and the number of requests sent again."""
    # Rounds of consecutive tokens; a token and its duplicate stay in one round.
    bounds = [warmup + args.requests * r // args.rounds for r in range(args.rounds + 1)]
    rounds = [answer_jobs(tokens, range(a, b)) for a, b in zip(bounds, bounds[1:], strict=False)]
    port = free_port()
    server = start_server(port, args, log)
    clients = Clients(port, args.connections)
    parts = ("requests", "seconds", "ok", "client", "gunicorn", "database")
    totals = {name: dict.fromkeys(parts, 0.0) for name in ENDPOINTS}
    run = {
        "totals": totals,
        "answer_results": [],
        "per_round": [],
        "per_round_one_row": [],
        "retries": 0,
    }
    cpu = ServerCPU(server)
    try:
        # Warm up both paths (imports, templates, database connections) before timing.
        clients.run(bare_jobs(warmup))
        clients.run(one_row_jobs(warmup))
        run["answer_results"] += clients.run(answer_jobs(tokens, range(warmup)))[1]
        for r, jobs in enumerate(rounds):
            phases = {
                "answer": jobs,
                "bare": bare_jobs(len(jobs)),
                "one_row": one_row_jobs(len(jobs)),
            }
            rates = {}
            order = list(ENDPOINTS) if r % 2 == 0 else list(reversed(ENDPOINTS))
            for name in order:
                before = cpu.sample()
                seconds, results, client_cpu, retried = clients.run(phases[name])
                spent = cpu.spent(before, cpu.sample())
                run["retries"] += retried
                total = totals[name]
                total["requests"] += len(results)
                total["seconds"] += seconds
                total["client"] += client_cpu
                for part in ("gunicorn", "database"):
                    both = total[part] is not None and spent[part] is not None
                    total[part] = total[part] + spent[part] if both else None
                if name == "answer":
                    run["answer_results"] += results
                # A duplicate submit gets the thank-you page (200), a first one the redirect.
                total["ok"] += sum(1 for _, status in results if status in (200, 302))
                rates[name] = len(results) / seconds
            run["per_round"].append(rates["answer"] / rates["bare"])
            run["per_round_one_row"].append(rates["one_row"] / rates["bare"])
    finally:
        clients.stop()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return run


def cpu_report(bare: dict, one_row: dict, answer: dict) -> list[str]:
    rows = []
    for label, total in (
        ("bare view", bare),
        ("one-row write", one_row),
        ("answer /s/<token>/", answer),
    ):
        n = total["requests"]
        parts = (total["gunicorn"], total["database"])
        total["server"] = None if None in parts else sum(parts)
        rows.append(
            [label]
            + [_per_request_ms(total[p], n) for p in ("client", "gunicorn", "database", "server")]
        )
    lines = [
        "CPU time per request, ms (from /proc; 10 ms clock ticks, summed over all rounds):",
        _setup.table(["endpoint", "client", "gunicorn", "database", "server"], rows),
    ]
    if bare["server"] is not None and answer["server"] is not None:
        bare_s = bare["server"] / bare["requests"]
        answer_s = answer["server"] / answer["requests"]
        lines.append(
            f"the answer's own server CPU (answer - bare): {(answer_s - bare_s) * 1000:.2f} ms; "
            f"server-side ratio (bare / answer server CPU): {bare_s / answer_s:.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    where = _setup.bench_database("survey" + ("_quick" if args.quick else ""), keep=args.keep_db)
    warmup = 4 * args.connections
    tokens = seed(warmup + args.requests)
    from django.db import connections

    create_one_row_table()
    _setup.analyze()
    connections.close_all()

    load_before = os.getloadavg()
    with tempfile.TemporaryFile() as log:
        run = measure(args, tokens, warmup, log)
        log.seek(0)
        server_log = log.read().decode(errors="replace").strip()
    load_after = os.getloadavg()

    bare, one_row, answer = (run["totals"][name] for name in ENDPOINTS)
    bare_rps = bare["requests"] / bare["seconds"]
    one_row_rps = one_row["requests"] / one_row["seconds"]
    answer_rps = answer["requests"] / answer["seconds"]
    ratio = answer_rps / bare_rps
    answer_results = run["answer_results"]
    checked = check(tokens, answer_results)
    print(f"survey bench on {where}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in load_before)}"
        f" before, {' '.join(f'{x:.2f}' for x in load_after)} after (other processes' work too)"
    )
    print(
        f"gunicorn gthread {args.workers}x{args.threads} on loopback; Python load generator, "
        f"{args.connections} keep-alive connections in 2 processes; rate limit on "
        f"({RATE_LIMIT}/min); {args.rounds} rounds alternating the endpoints, after a warm-up"
    )
    rows = [
        ["bare view", bare["requests"], bare["seconds"], bare_rps, bare["ok"]],
        ["one-row write", one_row["requests"], one_row["seconds"], one_row_rps, one_row["ok"]],
        ["answer /s/<token>/", answer["requests"], answer["seconds"], answer_rps, answer["ok"]],
    ]
    print(
        _setup.table(
            ["endpoint", "requests", "seconds", "req/s", "ok"],
            [[label, int(n), f"{s:.2f}", f"{rps:.0f}", int(ok)] for label, n, s, rps, ok in rows],
        )
    )
    for label, per_round in (
        ("answer / bare", run["per_round"]),
        ("one-row write / bare", run["per_round_one_row"]),
    ):
        print(
            f"{label} per round: "
            + " ".join(f"{x:.2f}" for x in per_round)
            + f" (median {statistics.median(per_round):.2f})"
        )
    print(
        f"the floor: a view that only stores the posted text in one INSERT reaches "
        f"{one_row_rps / bare_rps:.2f} of the bare view; the answer reaches "
        f"{answer_rps / one_row_rps:.2f} of that floor"
    )
    print("\n".join(cpu_report(bare, one_row, answer)))
    print(
        f"answers: {len(tokens)} tokens, {len(answer_results) - len(tokens)} duplicate submits; "
        f"responses stored {checked['responses']}; lost {checked['lost']}; "
        f"duplicated {checked['duplicated']}; failed statuses {checked['failed'] or 'none'}"
    )
    if server_log:
        print(f"gunicorn logged (last lines):\n{server_log[-2000:]}")
    if run["retries"]:
        print(
            f"WARNING: {run['retries']} timed requests were sent again (no answer within "
            f"{TIMEOUT} s or a connection error): the rounds they fell in are timed long"
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

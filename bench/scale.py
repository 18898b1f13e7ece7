"""Benchmark: every agent page and API list on a big database against the same on a baseline of
10 k interactions, in the same run (PostgreSQL only).

Two throw-away databases on the DATABASE_URL server, loaded with PostgreSQL's COPY (not the
ORM): `large` with 1 M customers, 10 M interactions and 1 M moments at --scale 1 (--scale 0.01:
10 k / 100 k / 10 k, for development), and the baseline with 1 k customers, 10 k interactions and
1 k moments. Both hold one customer with 10,000 interactions (--heavy). After loading: VACUUM
ANALYZE and the journey rollup rebuilt, as the scheduled jobs would leave them.

Timed, interleaved on both databases (median of --runs requests through Django's test client,
as an agent; the journey map as a manager):

* customer list; search for a rare name and for a common one (Smith, 2.2 % of the customers:
  names are drawn from Faker's census-weighted lists, as varied as a real CRM's), and for two
  first names (Michael, the most common, 2.3 %, and Mary, 0.7 %), whose matches sit together in
  name order (every "Michael …" after all the names from "A" to "Mi"); the customers' search
  words (customers.models.SearchWord) are filled by the table's trigger during the COPY;
* the customer with 10,000 interactions (its page: timeline, memory panel);
* the journey map;
* interactions API: first cursor page and the page after it; customers API first page, and
  filtered by a search for Smith (its count is capped: memorycrm.lib.pagination);
* CSV export of interactions: time to first byte.

Each page must take at most TARGET x its baseline time and run the same number of queries on
both. Prints the load time and database size.

Worker scaling (when Q_REDIS_URL is set and a sentiment model is found: --model, else the
newest in SENTIMENT_MODEL_DIR or the test suite's cached one): scoring throughput with 1 and
with 2 `qcluster` processes (as two hosts) of one worker each on the Redis broker, each pinned
to one torch/onnxruntime thread (SENTIMENT_THREADS=1), on the large database, in --rounds
rounds alternating one and two processes; each new interaction goes to another customer, as in
a real queue. Prints every round, the medians and their ratio (target >= 1.6 on 2 free cores,
informative: the machine's load is printed with it).

    python bench/scale.py --scale 0.01     # development size
    python bench/scale.py                  # 1 M / 10 M / 1 M

Ends with `RESULT scale worst_ratio=<max large/baseline> target<=1.5 PASS|FAIL`; exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _setup

TARGET = 1.5
RARE = "Quillfeather"
COMMON = "Smith"  # the most common last name (2.2 % of customers)
COMMON_FIRST = "Michael"  # the most common first name (2.3 %)
FIRST = "Mary"  # 0.7 %; its matches sit together too
CHANNELS = ["email", "phone", "chat", "meeting", "note"]
BODIES = [
    "The parcel is late again and nobody answers my emails. I am really angry about this.",
    "Thanks, that was quick and friendly, the replacement works perfectly.",
    "Invoice sent for the renewal; waiting for the purchase order number from finance.",
    "Called about the onboarding session, we moved it to next Tuesday at ten.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1M/10M/1M")
    parser.add_argument("--heavy", type=int, default=10_000, help="interactions of one customer")
    parser.add_argument("--runs", type=int, default=9, help="timed requests per figure")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench databases")
    parser.add_argument("--model", type=Path, help="sentiment model.pt for worker scaling")
    parser.add_argument("--texts", type=int, default=3072, help="interactions scored per figure")
    parser.add_argument("--rounds", type=int, default=3, help="worker scaling: rounds of 1 and 2")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.heavy, args.runs, args.warmup, args.rounds = 0.002, 500, 3, 1, 1
    return args


# --- Loading with COPY ----------------------------------------------------------------------


def _copy(cursor, table: str, columns: list[str], rows, defaults: dict | None = None) -> int:
    """COPY `rows` (tuples of text-ready values) into `table`, in chunks; returns how many.
    `defaults`: constant columns (Django's defaults are not the database's), set on the way
    in by giving the columns a database default for the load."""
    count = 0
    for column, value in (defaults or {}).items():
        cursor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT "
            + ("false" if value is False else f"'{value}'")
        )
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(r"\N" if v is None else str(v) for v in row))
            buffer.write("\n")
            count += 1
            if count % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    for column in defaults or {}:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
    return count


def _names(rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    """`count` first and last names drawn as often as people bear them: Faker's en_US lists
    (690 first names, 1,000 last names, weighted by the US census; Smith, the most common
    last name, is 2.2 % of them, Michael 2.3 % of first names). A CRM's names are this varied;
    a handful of names repeated would make every search a search for a common name."""
    from faker.providers.person.en_US import Provider

    def draw(weighted: dict[str, float]) -> list[str]:
        return rng.choices(list(weighted), weights=list(weighted.values()), k=count)

    return draw(Provider.first_names), draw(Provider.last_names)


def load(alias: str, *, customers: int, interactions: int, moments: int, heavy: int) -> dict:
    """Customers, interactions (the first customer has `heavy` of them, the others share the
    rest) and moments (on every n-th interaction), with COPY; ids are given, sequences reset."""
    from django.db import connections

    from customers.models import JourneyStage

    stages = list(JourneyStage.objects.using(alias).values_list("pk", flat=True))
    rng = random.Random(17)
    now = datetime.now(UTC)
    started = time.perf_counter()
    connection = connections[alias]
    connection.ensure_connection()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: COPY

        firsts, lasts = _names(rng, customers)

        def customer_rows():
            for pk, first, last in zip(range(1, customers + 1), firsts, lasts, strict=True):
                last = RARE if pk == customers // 2 else last
                email = f"{first}.{last}.{pk}@example.com".lower()
                yield (pk, f"{first} {last}", email, f"Company {pk % 997}", stamp, stamp)

        stamp = now.isoformat()
        # The customers' search words (customers.models.SearchWord) are filled by the
        # statement trigger on the table, once for the whole COPY, as for any other write.
        customers_started = time.perf_counter()
        _copy(
            raw,
            "customers_customer",
            ["id", "name", "email", "company", "created_at", "updated_at"],
            customer_rows(),
            defaults={
                "phone": "",
                "external_ref": "",
                "timezone": "UTC",
                "notes": "",
                "survey_opt_out": False,
            },
        )
        customers_loaded = time.perf_counter() - customers_started
        every = max(1, interactions // max(1, moments))

        def interaction_rows():
            for pk in range(1, interactions + 1):
                customer = 1 if pk <= heavy else 2 + (pk % max(1, customers - 1))
                occurred = now - timedelta(minutes=pk)
                score = rng.uniform(-1, 1)
                label = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
                yield (
                    pk,
                    CHANNELS[pk % len(CHANNELS)],
                    "inbound",
                    occurred.isoformat(),
                    f"Subject {pk}",
                    BODIES[pk % len(BODIES)],
                    "",
                    occurred.isoformat(),
                    label,
                    f"{score:.3f}",
                    "0.9",
                    "bench",
                    occurred.isoformat(),
                    customer,
                    stages[pk % len(stages)],
                    "f",
                )

        _copy(
            raw,
            "customers_interaction",
            [
                "id",
                "channel",
                "direction",
                "occurred_at",
                "subject",
                "body",
                "external_ref",
                "created_at",
                "sentiment_label",
                "sentiment_score",
                "sentiment_confidence",
                "sentiment_model",
                "scored_at",
                "customer_id",
                "stage_id",
                "imported",
            ],
            interaction_rows(),
        )

        def moment_rows():
            for pk, interaction in enumerate(range(1, interactions + 1, every), start=1):
                if pk > moments:
                    return
                customer = 1 if interaction <= heavy else 2 + (interaction % max(1, customers - 1))
                occurred = (now - timedelta(minutes=interaction)).isoformat()
                negative = interaction % 3 == 0
                yield (
                    pk,
                    occurred,
                    "negative" if negative else "positive",
                    "0.8",
                    "-0.6" if negative else "0.6",
                    "[]",
                    "bench",
                    "f",
                    "",
                    "30",
                    "0",
                    "0.9",
                    "0.8",
                    "0.6",
                    "0.2",
                    occurred,
                    occurred,
                    customer,
                    interaction,
                    stages[interaction % len(stages)],
                    "interaction",
                    "",
                    "[]",
                )

        made = _copy(
            raw,
            "moments_moment",
            [
                "id",
                "occurred_at",
                "polarity",
                "intensity",
                "impact",
                "reasons",
                "detected_by",
                "dismissed",
                "dismissed_reason",
                "stability_days",
                "refresh_count",
                "recall_now",
                "recall_7",
                "recall_30",
                "recall_365",
                "created_at",
                "updated_at",
                "customer_id",
                "interaction_id",
                "stage_id",
                "source",
                "source_text",
                "recalled_at",
            ],
            moment_rows(),
        )
        for table in ("customers_customer", "customers_interaction", "moments_moment"):
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    connection.commit() if not connection.get_autocommit() else None
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "customers": customers,
        "interactions": interactions,
        "moments": made,
        "load": loaded,
        "customers_load": customers_loaded,
    }


def database_size(alias: str) -> str:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return cursor.fetchone()[0]


# --- The pages --------------------------------------------------------------------------------


def pages(agent, manager) -> dict:
    """name: a function making the request (returns the response, checked for 200)."""

    def get(client, url):
        def request():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if response.streaming:  # time to first byte: the first chunk
                next(iter(response.streaming_content))
                response.close()
            return response

        return request

    def api_second_page():
        first = agent.get("/api/v1/interactions/").json()
        response = agent.get(first["next"])
        assert response.status_code == 200
        return response

    return {
        "customer list": get(agent, "/customers/"),
        "search, rare name": get(agent, f"/customers/?q={RARE.lower()}"),
        "search, common name": get(agent, f"/customers/?q={COMMON.lower()}"),
        "search, common first name": get(agent, f"/customers/?q={COMMON_FIRST.lower()}"),
        "search, first name": get(agent, f"/customers/?q={FIRST.lower()}"),
        "customer with 10k interactions": get(agent, "/customers/1/"),
        "journey map": get(manager, "/moments/journey/"),
        "API customers, page 1": get(agent, "/api/v1/customers/"),
        "API customers, search (capped count)": get(
            agent, f"/api/v1/customers/?search={COMMON.lower()}"
        ),
        "API customers, search, common first name": get(
            agent, f"/api/v1/customers/?search={COMMON_FIRST.lower()}"
        ),
        "API customers, search, first name": get(
            agent, f"/api/v1/customers/?search={FIRST.lower()}"
        ),
        "API interactions, cursor page 1": get(agent, "/api/v1/interactions/"),
        "API interactions, cursor page 2": api_second_page,
        "CSV export, first byte": get(manager, "/exports/interactions.csv"),
    }


def clients(alias: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    made = []
    for name, group in (("bench-agent", "Agent"), ("bench-manager", "Manager")):
        user = get_user_model().objects.db_manager(alias).create_user(username=name)
        user.groups.add(Group.objects.using(alias).get(name=group))
        client = Client()
        client.force_login(user)
        made.append(client)
    return made


# --- Worker scaling ---------------------------------------------------------------------------


def _model_path(explicit: Path | None) -> Path | None:
    from django.conf import settings

    if explicit:
        return explicit.resolve()
    found = sorted(Path(settings.SENTIMENT_MODEL_DIR).glob("*/model.pt"))
    found = found or sorted(
        (Path.home() / ".cache" / "memorycrm" / "test-sentiment-model").glob("*/*/model.pt")
    )
    return found[-1] if found else None


def worker_scaling(args) -> dict[int, list[float]] | str:
    """Interactions scored per second by 1 and by 2 qcluster processes (1 worker, 1 thread
    each) on Redis, on the large database, in each of --rounds rounds; or why it was not
    measured."""
    import sentiment as sentiment_bench  # bench/sentiment.py
    from django.conf import settings
    from django.db import connection, connections
    from django.db.models import Max
    from django.utils import timezone

    from customers.models import Customer, Interaction
    from moments import enqueue

    redis_url = os.environ.get("Q_REDIS_URL", "")
    if not redis_url:
        return "skipped: Q_REDIS_URL is not set"
    model = _model_path(args.model)
    if model is None:
        return "skipped: no sentiment model (train one, or pass --model)"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    settings.Q_REDIS_URL = redis_url
    settings.SENTIMENT_TASK_CHUNK = 16  # small tasks, so that both processes get work
    # On the large database: `default` becomes it (the queue's transactions are on `default`).
    connection.close()
    connection.settings_dict["NAME"] = connections["large"].settings_dict["NAME"]
    _setup.use_database("default")
    sentiment_bench.register(model)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT']}/{db['NAME']}"
    texts = [f"{BODIES[i % len(BODIES)]} (#{i})" for i in range(args.texts)]
    # New interactions go to many customers, one each, as in a real queue: piled on one
    # customer, every follow-up (moment detection over the customer's whole history, under
    # its row lock) waited for the other worker's, and grew with each round.
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:100_000])
    seeded = 0

    def seed(batch: list[str]) -> list[int]:
        nonlocal seeded
        rows = Interaction.objects.bulk_create(
            Interaction(
                customer_id=customers[(seeded + i) % len(customers)],
                channel="email",
                subject="",
                body=text,
            )
            for i, text in enumerate(batch)
        )
        seeded += len(batch)
        return [row.pk for row in rows]

    def throughput(hosts: int) -> float:
        """Interactions scored per second by `hosts` fresh qcluster processes."""
        logs = [Path(f"/tmp/bench-scale-qcluster-{os.getpid()}-{h}.log") for h in range(hosts)]
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=_setup.ROOT,
                env=os.environ
                | {
                    "DATABASE_URL": database_url,
                    "Q_REDIS_URL": redis_url,
                    "Q_WORKERS": "1",
                    "Q_POLL": "0.1",
                    "SENTIMENT_THREADS": "1",
                    "LOG_LEVEL": "INFO",
                },
                start_new_session=True,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            for log in logs
        ]
        try:

            def drain(ids: list[int], timeout: float) -> None:
                # Polled 4 times a second: every 50 ms, this process and PostgreSQL took 0.15
                # and 0.1 of a core, which two workers on two cores need (the time scored is
                # read from the rows, so the poll's period does not shorten the figure).
                deadline = time.monotonic() + timeout
                while Interaction.objects.filter(pk__in=ids, scored_at__isnull=True).exists():
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: the workers did not score in time")
                    time.sleep(0.25)

            # Warm: every process has loaded the model before the timed batch.
            deadline = time.monotonic() + 300
            while sum("Loaded sentiment model" in log.read_text() for log in logs) < hosts:
                warm = seed(texts[:16])
                enqueue.score_interactions(warm)
                drain(warm, 300)
                dead = [log for log, p in zip(logs, processes, strict=True) if p.poll() is not None]
                if dead:
                    raise SystemExit(f"bench: a worker died:\n{dead[0].read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise SystemExit("bench: the workers did not load the model")
            ids = seed(texts)
            start = timezone.now()
            enqueue.score_interactions(ids)
            drain(ids, 1800)
            last = Interaction.objects.filter(pk__in=ids).aggregate(last=Max("scored_at"))["last"]
            return len(ids) / (last - start).total_seconds()
        finally:
            for process in processes:  # the parent stops its workers
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            for log in logs:
                log.unlink(missing_ok=True)

    # Rounds alternate one and two processes (1, 2, 1, 2, ...), and each count's median is
    # taken: on a shared machine a burst of someone else's work then hits one round, not a
    # whole figure, and a drift in the machine's speed hits both counts alike.
    results: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for hosts in (1, 2):
            results[hosts].append(throughput(hosts))
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    where = _setup.bench_database("scale", extra=("large",), keep=args.keep_db)
    if _setup.vendor() != "postgresql":
        raise SystemExit("bench/scale.py needs PostgreSQL (COPY): set DATABASE_URL")
    from moments.memory import rollup

    print(f"Databases: {where}")
    sizes = {
        "default": (1_000, 10_000, 1_000),
        "large": tuple(int(n * args.scale) for n in (1_000_000, 10_000_000, 1_000_000)),
    }
    loaded, requests, counts = {}, {}, {}
    for alias, (customers, interactions, moments) in sizes.items():
        _setup.use_database(alias)
        interactions = max(interactions, args.heavy + customers)
        loaded[alias] = load(
            alias, customers=customers, interactions=interactions, moments=moments, heavy=args.heavy
        )
        started = time.perf_counter()
        rollup.rebuild()
        loaded[alias]["rollup"] = time.perf_counter() - started
        loaded[alias]["size"] = database_size(alias)
        agent, manager = clients(alias)
        requests[alias] = pages(agent, manager)
        for request in requests[alias].values():  # warm: caches filled, as in a live process
            request()
        counts[alias] = {
            name: _setup.count_queries(request, using=alias)[0]
            for name, request in requests[alias].items()
        }
    for alias, figures in loaded.items():
        print(
            f"{alias:8} {figures['customers']:>9,} customers {figures['interactions']:>11,} "
            f"interactions {figures['moments']:>9,} moments: COPY + index {figures['load']:.1f} s "
            f"(customers and their search words {figures['customers_load']:.1f} s), "
            f"rollup {figures['rollup']:.1f} s, database {figures['size']}"
        )

    names = list(requests["default"])
    interleaved = []
    for name in names:
        for alias in sizes:

            def request(alias=alias, name=name):
                _setup.use_database(alias)
                return requests[alias][name]()

            interleaved.append(request)
    timings = _setup.time_requests(interleaved, runs=args.runs, warmup=args.warmup)
    rows, worst, ok = [], 0.0, True
    for i, name in enumerate(names):
        small, large = timings[2 * i].median, timings[2 * i + 1].median
        ratio = large / small
        same = counts["default"][name] == counts["large"][name]
        passed = ratio <= TARGET and same
        worst = max(worst, ratio)
        ok = ok and passed
        verdict = "ok" if passed else "FAIL"
        rows.append(
            [
                name,
                f"{small:.1f}",
                f"{large:.1f}",
                f"{ratio:.2f}",
                f"{counts['default'][name]}/{counts['large'][name]}",
                verdict,
            ]
        )
    print()
    print(
        _setup.table(
            ["page (median ms)", "baseline", "large", "ratio", "queries", ""],
            rows,
        )
    )
    print()
    scaling = worker_scaling(args)
    one, five, fifteen = os.getloadavg()
    machine = f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
    if isinstance(scaling, str):
        print(f"Worker scaling: {scaling}")
    else:
        one_process, two_processes = statistics.median(scaling[1]), statistics.median(scaling[2])
        rounds = ", ".join(f"{a:.0f} -> {b:.0f}" for a, b in zip(*scaling.values(), strict=True))
        print(
            f"Worker scaling on Redis, 1 thread each (median of {len(scaling[1])} round(s): "
            f"{rounds}/s): 1 process {one_process:.1f}/s, 2 processes {two_processes:.1f}/s, "
            f"x{two_processes / one_process:.2f} (target >= 1.6 on 2 free cores; {machine})"
        )
    print(_setup.result_line("scale", "worst_ratio", worst, TARGET, ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

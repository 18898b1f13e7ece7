"""Benchmark: do the customer list and live search stay flat from 1,000 to 100,000 customers?

Seeds 1,000 customers with realistic names, emails and companies in one throw-away database, and
100,000 (the same first 1,000, then 99,000 more) in a second one. Each figure is the median time
of the real request made by a logged-in agent through the Django test client; the requests to the
two databases are interleaved, so load from other processes on the machine hits both sizes alike
instead of skewing whichever is measured second.

- list page:   GET /customers/                      (the full page, first 25 by name)
- rare term:   GET /customers/?q=quillfeather       (HTMX live search; exactly one customer)
- common term: GET /customers/?q=smith              (HTMX live search; thousands at 100k)

The RESULT ratio is rare-term search at 100k / at 1k (target <= 2.0, on PostgreSQL, where the
index of words (customers.models.SearchWord: its vocabulary has a pg_trgm GIN index) or the
texts' pg_trgm GIN index serves the substring search; on SQLite the search scans, so just report).

    python bench/search.py             # on DATABASE_URL (PostgreSQL), else SQLite
    python bench/search.py --quick     # tiny sizes, for the smoke test
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import sys
import time

import _setup

TARGET = 2.0
RARE = "quillfeather"
COMMON = "smith"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--small", type=int, default=1_000, help="customers of the baseline database"
    )
    parser.add_argument("--large", type=int, default=100_000, help="customers of the big database")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench databases")
    args = parser.parse_args(argv)
    if args.quick:
        args.small, args.large, args.runs, args.warmup = 100, 1_000, 3, 1
    return args


@functools.cache
def name_pools(seed: int) -> dict[str, list[str]]:
    """Faker draws, made once: they keep Faker's real frequencies (Smith is common)."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB"])
    fake.seed_instance(seed)
    pools = {
        "first_names": [fake.first_name() for _ in range(3000)],
        "last_names": [fake.last_name() for _ in range(3000)],
        "companies": [fake.company() for _ in range(1500)],
        "free_domains": [fake.free_email_domain() for _ in range(50)],
    }
    assert not any(RARE in item.lower() for pool in pools.values() for item in pool)
    return pools


class CustomerMaker:
    """Deterministic, realistic customers, fast: a seeded random combines Faker's pools.
    The same seed makes the same customers, in the same order."""

    def __init__(self, seed: int = 20261124) -> None:
        pools = name_pools(seed)
        self.first_names, self.last_names = pools["first_names"], pools["last_names"]
        self.companies, self.free_domains = pools["companies"], pools["free_domains"]
        self.rng = random.Random(seed)
        self.made = 0

    def _domain(self, company: str) -> str:
        if self.rng.random() < 0.4:
            return self.rng.choice(self.free_domains)
        return re.sub(r"[^a-z]", "", company.split()[0].lower()) + ".com"

    def customer(self, first: str | None = None, last: str | None = None):
        from customers.models import Customer

        rng, n = self.rng, self.made
        self.made += 1
        first = first or rng.choice(self.first_names)
        last = last or rng.choice(self.last_names)
        company = rng.choice(self.companies) if rng.random() < 0.85 else ""
        local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        return Customer(
            name=f"{first} {last}",
            # The number keeps emails unique (a case-insensitive unique constraint).
            email=f"{local}{n}@{self._domain(company or last)}",
            company=company,
            phone=f"+44 20 7{n:07d}",
        )

    def create(self, count: int, *, rare_at: int | None = None) -> None:
        from customers.models import Customer

        batch = []
        for i in range(count):
            rare = i == rare_at
            batch.append(self.customer("Ottilie", "Quillfeather") if rare else self.customer())
            if len(batch) == 2000:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)


class Request:
    """One request of the agent's browser to the database `using`, with what it shows and costs."""

    def __init__(self, client, using: str, url: str, *, htmx: bool) -> None:
        self.client, self.using, self.url = client, using, url
        self.headers = {"HX-Request": "true"} if htmx else {}
        body = self().content.decode()
        self.rows = len(re.findall(r"<tr[\s>]", body)) - 1  # minus the header row
        self.queries, self.sql = _setup.count_queries(self, using=using)

    def __call__(self):
        _setup.use_database(self.using)
        response = self.client.get(self.url, headers=self.headers)
        assert response.status_code == 200, (self.url, response.status_code)
        return response


LIST, RARE_SEARCH, COMMON_SEARCH = "list page", f"rare term “{RARE}”", f"common term “{COMMON}”"


def requests_for(client, using: str) -> dict[str, Request]:
    return {
        LIST: Request(client, using, "/customers/", htmx=False),
        RARE_SEARCH: Request(client, using, f"/customers/?q={RARE}", htmx=True),
        COMMON_SEARCH: Request(client, using, f"/customers/?q={COMMON}", htmx=True),
    }


def seed(using: str, count: int, *, rare_at: int):
    """A database of `count` customers and an agent's client logged in to it."""
    from customers.models import Customer

    _setup.use_database(using)
    client, _agent = _setup.agent_client()
    CustomerMaker().create(count, rare_at=rare_at)
    _setup.analyze(using)
    matches = {
        "total": Customer.objects.count(),
        "rare": Customer.objects.search(RARE).count(),
        "common": Customer.objects.search(COMMON).count(),
    }
    return client, matches


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    name = "search" + ("_quick" if args.quick else "")
    where = _setup.bench_database(name, extra=("large",), keep=args.keep_db)
    print(f"search bench on {where}")
    print(
        f"median (and best) of {args.runs} requests after {args.warmup} warm-up, all six "
        "interleaved, as a logged-in agent through the test client; ratio = "
        f"{args.large:,} / {args.small:,}, of the medians"
    )

    started = time.perf_counter()
    small_client, small_n = seed("default", args.small, rare_at=args.small // 2)
    large_client, large_n = seed("large", args.large, rare_at=args.small // 2)
    print(
        f"seeded {small_n['total']:,} + {large_n['total']:,} customers in "
        f"{time.perf_counter() - started:.1f} s; “{RARE}” matches {small_n['rare']} and "
        f"{large_n['rare']}, “{COMMON}” matches {small_n['common']:,} and {large_n['common']:,}"
    )
    small = requests_for(small_client, "default")
    large = requests_for(large_client, "large")
    labels = list(small)
    timings = _setup.time_requests(
        [small[label] for label in labels] + [large[label] for label in labels],
        runs=args.runs,
        warmup=args.warmup,
    )
    small_t = dict(zip(labels, timings[: len(labels)], strict=True))
    large_t = dict(zip(labels, timings[len(labels) :], strict=True))

    rows = []
    for label in labels:
        a, b, ta, tb = small[label], large[label], small_t[label], large_t[label]
        rows.append(
            [
                label,
                f"{ta.median:.2f} ms",
                f"{ta.best:.2f}",
                a.queries,
                a.rows,
                f"{tb.median:.2f} ms",
                f"{tb.best:.2f}",
                b.queries,
                b.rows,
                f"{tb.median / ta.median:.2f}",
            ]
        )
    headers = ["request", f"{args.small:,}", "best", "queries", "rows"]
    headers += [f"{args.large:,}", "best", "queries", "rows", "ratio"]
    print()
    print(_setup.table(headers, rows))

    search_sql = [q for q in large[RARE_SEARCH].sql if " LIKE " in q]
    if search_sql:
        plan = _setup.explain(search_sql[0], using="large")
        print(f"\nPlan of the rare-term search at {args.large:,} customers:\n{search_sql[0]}\n")
        print(plan)
        if _setup.vendor() == "postgresql":
            for index in ("customer_search_word_trgm", "customer_search_trgm"):
                used = index in plan
                print(f"{index} in the plan: {'yes' if used else 'NO'}")

    ratio = large_t[RARE_SEARCH].median / small_t[RARE_SEARCH].median
    same_queries = all(small[label].queries == large[label].queries for label in labels)
    if not same_queries:
        print("FAIL: the query counts differ between the two sizes")
    if _setup.vendor() != "postgresql":
        print("(the target is for PostgreSQL; on SQLite the search scans the table)")
    ok = ratio <= TARGET and same_queries
    print(_setup.result_line("search", "ratio", ratio, TARGET, ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

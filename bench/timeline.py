"""Benchmark: does the customer timeline cost the same for 10 and 10,000 interactions?

Seeds one customer with 10 interactions and one with 10,000 (scored, as the sentiment pipeline
leaves them, so the page draws its sentiment chart), then requests the real pages as a
logged-in agent through the Django test client: the customer page (its first timeline page) and a
deep cursor page (the HTMX fragment the page loads as the agent scrolls). For the big customer
the deep page is the 50th; the small one has no 50th page, so its baseline is its own deepest cursor
page (the 2nd).

Like for like: the timeline page size is set to 5 for the comparison so that both customers
render the same number of rows on every page compared (10 interactions = two full pages of 5).
Otherwise the ratio would mostly measure rendering 25 rows against 10, not the size of the table
or the depth of the page. The app's own page size is then measured too, for information.

    python bench/timeline.py             # on DATABASE_URL (PostgreSQL), else SQLite
    python bench/timeline.py --quick     # tiny sizes, for the smoke test

Ends with `RESULT timeline ratio=<max ratio> target<=1.3 PASS|FAIL`; FAIL also when the query
counts of compared pages differ.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import timedelta

import _setup

TARGET = 1.3
LIKE_FOR_LIKE_PAGE_SIZE = 5

SUBJECTS = [
    "Order status question",
    "Delivery delayed again",
    "Thanks for the quick fix",
    "Invoice does not match the quote",
    "Renewal call",
    "Onboarding session booked",
    "Password reset not working",
    "Feature request: export to PDF",
    "Complaint about the courier",
    "Follow-up after the meeting",
]
SENTENCES = [
    "The customer called about the parcel that was due on Monday.",
    "Explained the new billing cycle and sent the summary by email.",
    "They are happy with the product but the setup took too long.",
    "Escalated to the second line, waiting for the engineering answer.",
    "Promised a call back before Friday with the refund details.",
    "The customer asked for a discount on the renewal.",
    "Walked through the dashboard together, no open questions.",
    "Shared the tracking number and apologised for the delay.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10, help="interactions of the baseline")
    parser.add_argument("--large", type=int, default=10_000, help="interactions of the big one")
    parser.add_argument("--deep-page", type=int, default=50, help="cursor page of the big one")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database")
    args = parser.parse_args(argv)
    if args.quick:
        args.large, args.deep_page, args.runs, args.warmup = 200, 5, 3, 1
    return args


def seed_customer(name: str, count: int, *, agent, rng: random.Random):
    from django.utils import timezone

    from customers.models import Customer, Interaction, JourneyStage

    customer = Customer.objects.create(
        name=name, email=f"{name.lower().replace(' ', '.')}@example.com", company="Bench Ltd"
    )
    stages = list(JourneyStage.objects.all())
    channels = [c for c, _ in Interaction.Channel.choices]
    directions = [d for d, _ in Interaction.Direction.choices]
    labels = [label for label, _ in Interaction.Sentiment.choices]
    start = timezone.now() - timedelta(minutes=1)
    rows = []
    for i in range(count):
        # Scored, as the sentiment pipeline leaves every interaction, so the page draws its
        # sentiment chart as it would for a real customer.
        score = round(rng.uniform(-1, 1), 3)
        # Some interactions share a timestamp, so the cursor's id tie-break is exercised too.
        occurred_at = start - timedelta(minutes=37 * (i - (i % 7 == 6)))
        rows.append(
            Interaction(
                customer=customer,
                channel=rng.choice(channels),
                direction=rng.choice(directions),
                occurred_at=occurred_at,
                agent=agent,
                stage=rng.choice(stages),
                subject=rng.choice(SUBJECTS),
                body=" ".join(rng.sample(SENTENCES, 3)),
                sentiment_label=labels[0 if score < -0.3 else 1 if score < 0.3 else 2],
                sentiment_score=score,
                sentiment_confidence=round(rng.uniform(0.5, 1), 3),
                sentiment_model="bench",
                scored_at=occurred_at + timedelta(minutes=1),
            )
        )
    Interaction.objects.bulk_create(rows, batch_size=1000)
    return customer


def cursor_of_page(customer, page_number: int) -> str | None:
    """The cursor that asks for `page_number` (1-based), by following next_cursor from page 1."""
    from customers import selectors

    cursor = None
    for _ in range(page_number - 1):
        cursor = selectors.timeline_page(customer=customer, cursor=cursor).next_cursor
        if cursor is None:
            raise SystemExit(f"{customer} has fewer than {page_number} timeline pages")
    return cursor


class Page:
    """One timeline page as the agent's browser asks for it: the customer page for page 1, the
    HTMX fragment for a cursor page."""

    def __init__(self, client, customer, page_number: int) -> None:
        from urllib.parse import urlencode

        self.client, self.page_number = client, page_number
        cursor = cursor_of_page(customer, page_number)
        self.url = customer.get_absolute_url()
        self.headers = {}
        if cursor:
            self.url += "?" + urlencode({"cursor": cursor})
            self.headers = {"HX-Request": "true"}  # what hx-get sends when "more" is revealed
        body = self().content.decode()
        self.rows = len(re.findall(r'<li[^>]* id="interaction-\d+"', body))
        self.queries, self.sql = _setup.count_queries(self)

    def __call__(self):
        response = self.client.get(self.url, headers=self.headers)
        assert response.status_code == 200, (self.url, response.status_code)
        return response


def compare(client, small, large, *, deep_page: int, args) -> list[dict]:
    """First page and deep cursor page, small customer against big one, at the current size."""
    from django.conf import settings

    small_last = -(-args.small // settings.TIMELINE_PAGE_SIZE)  # the small customer's last page
    pairs = [("first page", 1, 1)]
    if small_last > 1:
        label = f"cursor page (big: {deep_page}, small: {small_last})"
        pairs.append((label, small_last, deep_page))
    comparisons = []
    for label, small_page, large_page in pairs:
        a, b = Page(client, small, small_page), Page(client, large, large_page)
        ta, tb = _setup.time_requests([a, b], runs=args.runs, warmup=args.warmup)
        comparisons.append(
            {
                "label": label,
                "small": a,
                "large": b,
                "ta": ta,
                "tb": tb,
                "ratio": tb.median / ta.median,
            }
        )
    return comparisons


def print_table(title: str, comparisons: list[dict], args) -> None:
    print(f"\n{title}")
    rows = []
    for c in comparisons:
        a, b, ta, tb = c["small"], c["large"], c["ta"], c["tb"]
        rows.append(
            [
                c["label"],
                f"{ta.median:.2f} ms",
                f"{ta.best:.2f}",
                a.queries,
                a.rows,
                f"{tb.median:.2f} ms",
                f"{tb.best:.2f}",
                b.queries,
                b.rows,
                f"{c['ratio']:.2f}",
            ]
        )
    headers = [
        "page",
        f"{args.small} inter.",
        "best",
        "queries",
        "rows",
        f"{args.large:,} inter.",
        "best",
        "queries",
        "rows",
        "ratio",
    ]
    print(_setup.table(headers, rows))


def print_app_page_size(client, small, large, args) -> None:
    """For information: the app's page size, and the plan of the deep page's query.

    The small customer fits on one page of 10 rows, against 25 for the big one, so that ratio
    measures rendering more rows, not the database."""
    from django.conf import settings

    app_size = settings.TIMELINE_PAGE_SIZE
    info = compare(client, small, large, deep_page=args.deep_page, args=args)
    print_table(f"App page size ({app_size}), for information", info, args)
    deep_page = min(args.deep_page, -(-args.large // app_size))
    first, deep = Page(client, large, 1), Page(client, large, deep_page)
    t_first, t_deep = _setup.time_requests([first, deep], runs=args.runs, warmup=args.warmup)
    print(
        f"{args.large:,}-interaction customer, page {deep_page} (fragment) / page 1 (full page): "
        f"{t_deep.median:.2f} / {t_first.median:.2f} ms = {t_deep.median / t_first.median:.2f}  "
        f"(queries {deep.queries} / {first.queries}, rows {deep.rows} / {first.rows})"
    )

    timeline_sql = [q for q in deep.sql if 'FROM "customers_interaction"' in q]
    if timeline_sql:
        print(f"\nPlan of the timeline query for page {deep_page} of the big customer:")
        print(timeline_sql[0])
        print(_setup.explain(timeline_sql[0]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    where = _setup.bench_database("timeline" + ("_quick" if args.quick else ""), keep=args.keep_db)

    from django.test.utils import override_settings

    rng = random.Random(20261124)
    client, agent = _setup.agent_client()
    small = seed_customer("Small Timeline", args.small, agent=agent, rng=rng)
    large = seed_customer("Large Timeline", args.large, agent=agent, rng=rng)
    _setup.analyze()

    print(f"timeline bench on {where}")
    print(
        f"customers with {args.small} and {args.large:,} interactions; median (and best) of "
        f"{args.runs} requests after {args.warmup} warm-up, small and big interleaved, as a "
        "logged-in agent through the test client; ratio = big / small, of the medians"
    )

    with override_settings(TIMELINE_PAGE_SIZE=LIKE_FOR_LIKE_PAGE_SIZE):
        main_cmp = compare(client, small, large, deep_page=args.deep_page, args=args)
    print_table(
        f"Like for like (page size {LIKE_FOR_LIKE_PAGE_SIZE}: same rows rendered) — the RESULT",
        main_cmp,
        args,
    )

    if not args.quick:
        print_app_page_size(client, small, large, args)

    ratio = max(c["ratio"] for c in main_cmp)
    same_queries = all(c["small"].queries == c["large"].queries for c in main_cmp)
    if not same_queries:
        print("FAIL: the query counts differ between the small and the big customer")
    ok = ratio <= TARGET and same_queries
    print(_setup.result_line("timeline", "ratio", ratio, TARGET, ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

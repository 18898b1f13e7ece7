"""Reads that depend on who asks: customer lists and the timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from django.db.models import Max, QuerySet
from django.db.models.expressions import RawSQL

from customers.access import User, customers_visible_to
from customers.models import Customer, CustomerQuerySet, SearchText, search_term
from memorycrm.lib import keyset

# How many entries of the (name, id) index a search walks before it asks the trigram index
# (first_matches). The walk reads the index alone, about 0.6 µs an entry (3 ms for 5,000 at
# 1 M customers): "smith" (2.2 %) fills its page within the first 3,000, where its matches
# start (after "Aaron A…" to "Aaron R…"); a rare term pays the whole walk, then a few rows.
SEARCH_WALK = 5000


def customer_page(*, user: User, query: str = "", cursor: str | None = None) -> keyset.Page:
    """A page of the customers the user may see, matching `query`, ordered by name.

    The page's ids are found first (first_matches), and the table is read for the page's rows
    only."""

    def first(customers: CustomerQuerySet, count: int) -> QuerySet | RawSQL:
        return first_matches(customers, query, count)

    return keyset.paginate(
        customers_visible_to(user),
        field="name",
        descending=False,
        cursor=cursor,
        size=settings.CUSTOMER_PAGE_SIZE,
        rows=Customer.objects.select_related("owner"),
        first=first if search_term(query) else None,
    )


def first_matches(
    customers: CustomerQuerySet, term: str, count: int, *, offset: int = 0
) -> QuerySet | RawSQL:
    """The ids of the first `count` of `customers` in name order that match `term`, after the
    first `offset` of them (what `pk__in` takes).

    On PostgreSQL one query holds two ways to find them, and the second runs only when the
    first did not fill the page (customers.models.SearchText says what the indexes hold):
    1. walk the first SEARCH_WALK entries of the (name, id) index, matching inside the index:
       a term many customers share all along the names ("smith") fills the page there (the
       matches among the first entries are the first matches: a page the walk fills is right);
    2. else take every match from the trigram index and sort them by name. A rare term
       ("quillfeather") has few matches. So has, for its size, a common one whose matches sit
       together far along the names: every "Michael …" comes after all the names from "A" to
       "Mi", which a walk to the first Michael would pass one by one.
    A plain `ORDER BY name LIMIT` leaves the choice to PostgreSQL's planner, which expects the
    matches of any term spread evenly over the names and walks the index for a common one.
    """
    matches = customers.search(term)
    page = matches.order_by("name", "id").values("pk")[offset : offset + count]
    if connections[customers.db].vendor != "postgresql" or customers.query.is_empty():
        return page
    connection = connections[customers.db]
    entries, entry_params = (
        customers.order_by("name", "id")
        .values("id", "name", "email", "company")[:SEARCH_WALK]
        .query.sql_with_params()
    )
    found, found_params = matches.order_by().values("id", "name").query.sql_with_params()
    text = SearchText.template % {"expressions": SearchText.arg_joiner.join(SearchText.columns)}
    pattern = f"%{connection.ops.prep_for_like_query(search_term(term))}%"
    # MATERIALIZED: each CTE is planned on its own (PostgreSQL would otherwise fold `found`
    # into the ORDER BY … LIMIT and walk the index again); the trigram branch is gated by a
    # condition on `walk` alone, which PostgreSQL checks once, before running the branch.
    sql = (
        f"WITH walk AS MATERIALIZED (SELECT id, name FROM ({entries}) entries "
        f"WHERE {text} LIKE %s ORDER BY name, id LIMIT {count:d} OFFSET {offset:d}), "
        f"found AS MATERIALIZED ({found}) "
        f"SELECT id FROM walk WHERE (SELECT count(*) FROM walk) = {count:d} "
        "UNION ALL "
        f"(SELECT id FROM found WHERE (SELECT count(*) FROM walk) < {count:d} "
        f"ORDER BY name, id LIMIT {count:d} OFFSET {offset:d})"
    )
    return RawSQL(sql, (*entry_params, pattern, *found_params))


def timeline_page(*, customer: Customer, cursor: str | None = None) -> keyset.Page:
    """A page of the customer's interactions, newest first, after `cursor`.

    Keyset pagination on the (customer, occurred_at desc, id desc) index: a constant number of
    queries and the same cost for the first and the fiftieth page.
    """
    interactions = customer.interactions.select_related(
        "agent", "stage", "conversation", "inbound_email__answers"
    )
    return keyset.paginate(
        interactions,
        field="occurred_at",
        descending=True,
        cursor=cursor,
        size=settings.TIMELINE_PAGE_SIZE,
    )


def timeline_arrivals(*, customer: Customer, after: int, shown: set[int]) -> list:
    """Interactions stored since an open customer page last asked (id above `after`, not
    among `shown`: those the page added itself), newest first; at most a page of them."""
    interactions = (
        customer.interactions.select_related(
            "agent", "stage", "conversation", "inbound_email__answers"
        )
        .filter(pk__gt=after)
        .exclude(pk__in=shown)
        .order_by("-occurred_at", "-id")
    )
    return list(interactions[: settings.TIMELINE_PAGE_SIZE])


def newest_interaction_id(customer: Customer) -> int:
    return customer.interactions.aggregate(newest=Max("pk"))["newest"] or 0

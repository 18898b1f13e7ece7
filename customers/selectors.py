"""Reads that depend on who asks: customer lists and the timeline."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connections
from django.db.models import Max, QuerySet
from django.db.models.expressions import RawSQL

from customers.access import User, customers_visible_to
from customers.models import (
    Customer,
    CustomerQuerySet,
    SearchPosting,
    SearchText,
    SearchWord,
    search_term,
)
from memorycrm.lib import keyset

# How many entries of the (name, id) index a search walks before it asks the trigram index
# (first_matches). The walk reads the index alone, about 0.6 µs an entry (3 ms for 5,000 at
# 1 M customers): "smith" (2.2 %) fills its page within the first 3,000, where its matches
# start (after "Aaron A…" to "Aaron R…"); a rare term pays the whole walk, then a few rows.
SEARCH_WALK = 5000

# A term the index of words serves (first_matches): ASCII letters and digits only, so that
# where it is found it lies inside one word of the text; at least 3, a trigram to find its
# words by. At most SEARCH_WORDS words containing it, else the trigram index of the texts.
WORD_TERM = re.compile(r"[a-z0-9]{3,}")
SEARCH_WORDS = 200
# When a page of each of the term's words is at most this many postings, they are read first
# and the walk is skipped ("smith": a handful of words, where the walk passes 3,000 names).
SEARCH_WORD_ROWS = 1000


def customer_page(*, user: User, query: str = "", cursor: str | None = None) -> keyset.Page:
    """A page of the customers the user may see, matching `query`, ordered by name.

    The page's ids are found first (first_matches), and the table is read for the page's rows
    only."""

    key = keyset.decode(cursor or "")
    after = key if key is not None and isinstance(key[0], str) else None

    def first(customers: CustomerQuerySet, count: int) -> QuerySet | RawSQL:
        return first_matches(customers, query, count, after=after)

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
    customers: CustomerQuerySet,
    term: str,
    count: int,
    *,
    offset: int = 0,
    after: tuple[str, int] | None = None,
) -> QuerySet | RawSQL:
    """The ids of the first `count` of `customers` in name order that match `term`, after the
    first `offset` of them (what `pk__in` takes). `after`: the (name, id) of a keyset cursor
    that `customers` is already filtered by, so that the words' lists start there too.

    On PostgreSQL one query holds three ways to find them; each runs only when the ones before
    did not find the page (customers.models.SearchText and SearchWord say what the indexes
    hold):
    1. walk the first SEARCH_WALK entries of the (name, id) index, matching inside the index:
       a term many customers share all along the names fills the page there (the matches
       among the first entries are the first matches: a page the walk fills is right);
    2. for a term of ASCII letters and digits (3 or more) found in at most SEARCH_WORDS words
       of the customers' texts, the first `offset + count` customers of each of those words in
       name order (SearchPosting's index), merged: the page's matches are among them, since a
       customer's place among one word's customers is no later than among all the matches.
       When that is at most SEARCH_WORD_ROWS postings it runs first, and the walk not at all:
       a first name ("michael": 23,680 matches, after every name from "A" to "Mi"), a last
       name ("smith") or a rare one ("quillfeather") each read a page of one or two words;
    3. else take every match from the trigram index and sort them by name (a term in more
       words, shorter than 3, or with other characters: "ann lee", "josé", "50%").
    A plain `ORDER BY name LIMIT` leaves the choice to PostgreSQL's planner, which expects the
    matches of any term spread evenly over the names and walks the index for a common one.
    """
    matches = customers.search(term)
    page = matches.order_by("name", "id").values("pk")[offset : offset + count]
    if connections[customers.db].vendor != "postgresql" or customers.query.is_empty():
        return page
    connection = connections[customers.db]
    term = search_term(term)
    entries, entry_params = (
        customers.order_by("name", "id")
        .values("id", "name", "email", "company")[:SEARCH_WALK]
        .query.sql_with_params()
    )
    found, found_params = matches.order_by().values("id", "name").query.sql_with_params()
    text = SearchText.template % {"expressions": SearchText.arg_joiner.join(SearchText.columns)}
    pattern = f"%{connection.ops.prep_for_like_query(term)}%"
    walked = "(SELECT count(*) FROM walk)"
    words = "(SELECT cardinality(list) FROM words)"
    by_words = WORD_TERM.fullmatch(term) is not None
    walk_if = ""
    # MATERIALIZED: each CTE is planned on its own (PostgreSQL would otherwise fold `found`
    # into the ORDER BY … LIMIT and walk the index again); a branch is gated by a condition on
    # other CTEs alone, which PostgreSQL checks once, before running the branch.
    ctes: list[str] = []
    params: list = []
    if by_words:
        ctes.append(WORDS_CTE)
        params.append(pattern)
        # A term in few words reads a page of each before the walk, and the walk stays still.
        walk_if = f"{words} * {offset + count:d} > {SEARCH_WORD_ROWS:d} AND "
    ctes.append(
        f"walk AS MATERIALIZED (SELECT id, name FROM ({entries}) entries "
        f"WHERE {walk_if}{text} LIKE %s ORDER BY name, id LIMIT {count:d} OFFSET {offset:d})"
    )
    params += [*entry_params, pattern]
    branches = [f"SELECT id FROM walk WHERE {walked} = {count:d}"]
    use_found = f"{walked} < {count:d}"
    if by_words:
        restrict, restrict_params = _among(customers)
        ctes.append(
            # Per word, its first customers in name order (restricted: a nested loop on the
            # customer's primary key, a page of lookups per word).
            "listed AS MATERIALIZED (SELECT DISTINCT p.customer_id AS id, p.name "
            "FROM words CROSS JOIN unnest(words.list) w(word) "
            "CROSS JOIN LATERAL (SELECT p.customer_id, p.name "
            f"FROM {SearchPosting._meta.db_table} p "
            f"{restrict}WHERE p.word = w.word "
            f"{'AND (p.name, p.customer_id) > (%s, %s) ' if after else ''}"
            f"ORDER BY p.name, p.customer_id LIMIT {offset + count:d}) p "
            f"WHERE {walked} < {count:d} AND {words} <= {SEARCH_WORDS:d})"
        )
        params += [*restrict_params, *(after or ())]
        branches.append(
            f"(SELECT id FROM listed ORDER BY name, id LIMIT {count:d} OFFSET {offset:d})"
        )
        use_found += f" AND {words} > {SEARCH_WORDS:d}"
    ctes.append(f"found AS MATERIALIZED ({found})")
    params += found_params
    branches.append(
        f"(SELECT id FROM found WHERE {use_found} "
        f"ORDER BY name, id LIMIT {count:d} OFFSET {offset:d})"
    )
    sql = f"WITH {', '.join(ctes)} SELECT id FROM ({' UNION ALL '.join(branches)}) ids"
    return RawSQL(sql, tuple(params))


# The words containing the term (pattern %s), in one row, an array: PostgreSQL plans what it
# does per word for the 10 elements it expects of an array, not for the words its trigram
# statistics expect (100 and more), whose cost would have it compile the query (JIT, 30 ms).
WORDS_CTE = (
    f"words AS MATERIALIZED (SELECT array(SELECT word FROM {SearchWord._meta.db_table} "
    f"WHERE word LIKE %s LIMIT {SEARCH_WORDS + 1:d}) AS list)"
)


def _among(customers: CustomerQuerySet) -> tuple[str, tuple]:
    """A join keeping a word's customers (SearchPosting `p`) among `customers`, by primary key,
    and its params; none when they are all customers: the words hold the customers the same
    snapshot holds (the triggers write them in the same transaction)."""
    if not customers.query.where and not customers.query.is_sliced:
        return "", ()
    allowed, params = customers.order_by().values("id").query.sql_with_params()
    return f"JOIN ({allowed}) allowed ON allowed.id = p.customer_id ", params


def capped_match_count(customers: CustomerQuerySet, term: str, limit: int) -> tuple[str, tuple]:
    """The SQL (and params) of one number: how many of `customers` match `term`, counted up to
    `limit` (the customers API's capped count, memorycrm.lib.pagination).

    On PostgreSQL, for a term the index of words serves (first_matches) in at most
    SEARCH_WORDS words, the customers among the first `limit` of each word, counted once
    (at most `limit`): a word with `limit` customers makes the count reach it, and words with
    fewer are counted whole. Else, the first `limit` matches PostgreSQL finds (the trigram
    index), which for a common term means building the bitmap of every match first
    ("michael": 23,680).
    """
    term = search_term(term)
    matches = customers.search(term).order_by().values("pk")[:limit]
    plain, plain_params = matches.query.sql_with_params()
    counted = f"SELECT count(*) FROM ({plain}) capped"
    connection = connections[customers.db]
    if (
        connection.vendor != "postgresql"
        or customers.query.is_empty()
        or not WORD_TERM.fullmatch(term)
    ):
        return counted, plain_params
    restrict, restrict_params = _among(customers)
    words = "(SELECT cardinality(list) FROM words)"
    sql = (
        f"WITH {WORDS_CTE} SELECT CASE WHEN {words} <= {SEARCH_WORDS:d} "
        f"THEN (SELECT least(count(DISTINCT id), {limit:d}) FROM (SELECT p.customer_id AS id "
        "FROM words CROSS JOIN unnest(words.list) w(word) CROSS JOIN LATERAL "
        f"(SELECT p.customer_id FROM {SearchPosting._meta.db_table} p {restrict}"
        f"WHERE p.word = w.word LIMIT {limit:d}) p) listed) "
        f"ELSE ({counted}) END"
    )
    pattern = f"%{connection.ops.prep_for_like_query(term)}%"
    return sql, (pattern, *restrict_params, *plain_params)


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

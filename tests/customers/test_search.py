"""Customer search at scale: what it looks in, the indexes that serve it on PostgreSQL
(customers.models.SearchText, migration 0010), and paging through its matches."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import selectors
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's indexes (SQLite scans)"
)


def search_sql(user, term: str) -> str:
    """The SQL of the customer list's search (the query with the LIKE in it)."""
    with CaptureQueriesContext(connection) as queries:
        selectors.customer_page(user=user, query=term)
    [sql] = [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"]]
    return sql


def plan(sql: str, *, disable: tuple[str, ...]) -> str:
    """PostgreSQL's plan of `sql` with the named plan types switched off (a tiny test table
    would otherwise be read whole, whatever the indexes)."""
    with connection.cursor() as cursor:
        for setting in disable:
            cursor.execute(f"SET LOCAL enable_{setting} = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_pages_through_every_match_once_in_name_order(agent_client, settings):
    settings.CUSTOMER_PAGE_SIZE = 2
    for n in range(5):
        CustomerFactory(name=f"Jones {n}", email=f"j{n}@example.com", company="Acme")
        CustomerFactory(name=f"Smith {n}", email=f"s{n}@example.com", company="Acme")
    CustomerFactory(name="Ada", email="ada.smith@example.com")  # matched by the email
    seen, cursor = [], None
    while True:
        params = {"q": "SMITH", **({"cursor": cursor} if cursor else {})}
        page = agent_client.get(reverse("customer-list"), params).context["page"]
        seen += [c.name for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ["Ada", *(f"Smith {n}" for n in range(5))]


def test_search_matches_across_name_email_and_company_lower_cased():
    ada = CustomerFactory(name="Ada Lovelace", email="ada@example.com", company="Analytical")
    CustomerFactory(name="Someone Else", email="else@other.example", company="Other")
    for term in ("LOVELACE", "lovelace ada@", "example.com analytical", "ANALYT"):
        assert list(Customer.objects.search(term)) == [ada], term


@needs_postgresql
def test_a_rare_term_is_found_through_the_trigram_index(agent):
    """The index is on the very expression the query filters on (SearchText): were they to
    differ, PostgreSQL could not use it and every search would read the whole table."""
    CustomerFactory(name="Ada Quillfeather")
    sql = search_sql(agent, "quillfeather")
    assert "customer_search_trgm" in plan(sql, disable=("seqscan", "indexscan", "indexonlyscan"))


@needs_postgresql
def test_a_common_term_is_matched_within_the_name_index(agent):
    """Walking the names in order, the search matches on the index's own columns (an
    index-only scan): the table is read for the page's rows only."""
    CustomerFactory(name="Ada Smith")
    sql = search_sql(agent, "smith")
    assert "Index Only Scan using customer_name_search" in plan(
        sql, disable=("seqscan", "bitmapscan")
    )


def test_the_longest_non_latin_name_email_and_company_are_stored_and_found():
    """Four-byte characters (no repeats, which PostgreSQL would compress) at every field's full
    length: the (name, id) index entry that includes email and company stays within
    PostgreSQL's 2,704 bytes."""

    def wide(count: int, seed: int) -> str:
        return "".join(chr(0x20000 + (seed + i * 7919) % 40000) for i in range(count))

    customer = Customer.objects.create(name=wide(200, 1), company=wide(200, 2), email=wide(254, 3))
    assert list(Customer.objects.search(wide(200, 1)[100:103])) == [customer]

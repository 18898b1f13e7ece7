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


def page_through(client, term: str) -> list[str]:
    """The names the customer list shows for `term`, page after page."""
    seen, cursor = [], None
    while True:
        params = {"q": term, **({"cursor": cursor} if cursor else {})}
        page = client.get(reverse("customer-list"), params).context["page"]
        seen += [c.name for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            return seen


def test_matches_that_sit_together_far_along_the_names_are_all_found_in_order(
    agent_client, settings, monkeypatch
):
    """A page is found by a short walk along the names when it holds enough matches, and
    otherwise by the trigram index (PostgreSQL; selectors.first_matches): both ways, on every
    page, find the same matches in name order."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 5)
    settings.CUSTOMER_PAGE_SIZE = 4
    expected = michaels_after_aarons()
    assert page_through(agent_client, "  MICHAEL ") == expected


def test_wildcards_in_a_search_are_plain_characters(agent_client, settings):
    settings.CUSTOMER_PAGE_SIZE = 1  # a walk that matched too much would fill its page
    for name in ("Ann_Lee", "Annx Lee 50%", "Annxlee", "Ann Lee 50x"):
        CustomerFactory(name=name, company="Acme")
    assert page_through(agent_client, "n_l") == ["Ann_Lee"]
    assert page_through(agent_client, "50%") == ["Annx Lee 50%"]


def explain_analyze(sql: str) -> list[dict]:
    """Every node of the plan PostgreSQL ran for `sql`, with its actual figures."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        [[document]] = cursor.fetchall()
    nodes, todo = [], [document[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


def names_walked(nodes: list[dict]) -> int:
    """Entries read from the (name, id) index in order (not as a bitmap, which has no order)."""
    return sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in nodes
        if node.get("Index Name") == "customer_name_search"
        and node["Node Type"] in ("Index Scan", "Index Only Scan")
    )


def runs_of(nodes: list[dict], subplan: str) -> int:
    [node] = [node for node in nodes if node.get("Subplan Name") == subplan]
    return node["Actual Loops"]


@needs_postgresql
def test_a_search_walks_a_bounded_part_of_the_names_then_asks_the_trigram_index(agent, monkeypatch):
    """Matches sitting together far along the names ("michael 0": every Michael after the
    "A…" to "Mi…") are not reached by walking past every name before them: the walk stops
    after SEARCH_WALK entries, and the last branch (`found`: the trigram index at full size,
    test_a_rare_term_is_found_through_the_trigram_index) finds them; a term of letters and
    digits alone, "michael", is found through its words before (test_search_words.py).
    PostgreSQL's planner alone expects the matches spread evenly along the names, and walks."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 100)
    Customer.objects.bulk_create(
        [Customer(name=f"Aaron {n:04}", email=f"a{n}@example.com") for n in range(2000)]
        + [Customer(name=f"Michael {n:03}", email=f"m{n}@example.com") for n in range(300)]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    nodes = explain_analyze(search_sql(agent, "michael 0"))
    assert names_walked(nodes) <= 100
    assert runs_of(nodes, "CTE found") == 1
    page = selectors.customer_page(user=agent, query="michael 0")
    assert [c.name for c in page.items] == [f"Michael {n:03}" for n in range(25)]


@needs_postgresql
def test_a_term_found_all_along_the_names_fills_its_page_in_the_walk(agent, monkeypatch):
    """When its words hold more than SEARCH_WORD_ROWS postings to read (here: any), the walk
    goes first, and fills the page."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 100)
    monkeypatch.setattr(selectors, "SEARCH_WORD_ROWS", 0)
    Customer.objects.bulk_create(
        Customer(name=f"Name {n:04} {'Smith' if n % 3 == 0 else 'Jones'}") for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    nodes = explain_analyze(search_sql(agent, "smith"))
    assert names_walked(nodes) <= 100
    assert runs_of(nodes, "CTE found") == 0
    page = selectors.customer_page(user=agent, query="smith")
    assert [c.name for c in page.items] == [f"Name {n:04} Smith" for n in range(0, 75, 3)]


# --- The customers API's `?search=` (page numbers; customers.api.views) ----------------------


def api_search_sql(client, params: dict) -> list[str]:
    """The SQL of the API's search queries (those with the LIKE in them), after the request."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/customers/", params)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"]]


def api_page_through(client, params: dict) -> list[str]:
    seen, url = [], "/api/v1/customers/"
    while url:
        body = client.get(url, params if url == "/api/v1/customers/" else None).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]
    return seen


def test_the_api_search_pages_through_every_match_once_in_name_order(agent_api, monkeypatch):
    """Pages past the walk (page 3 starts after the 5 entries walked) and pages inside it, both
    ways of finding a page's ids: the same matches as the customer list, in name order."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 5)
    expected = michaels_after_aarons()
    assert api_page_through(agent_api, {"search": "  MICHAEL ", "page_size": 4}) == expected
    assert api_page_through(agent_api, {"q": "a", "page_size": 3}) == [
        *(f"Aaron {n:02}" for n in range(12)),
        "Ada Zed",
        *(f"Michael {n}" for n in range(9)),
        "Zoe Dimichaelis",
    ]
    body = agent_api.get("/api/v1/customers/", {"search": "michael", "page_size": 4}).json()
    assert (body["count"], body["count_exact"]) == (11, True)


def test_the_api_search_keeps_the_other_filters_and_orderings(agent_api, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_WALK", 2)
    for n in range(6):
        CustomerFactory(name=f"Smith {n}", company="Acme" if n % 2 else "Other")
    params = {"search": "smith", "company": "acme", "page_size": 2}
    assert api_page_through(agent_api, params) == ["Smith 1", "Smith 3", "Smith 5"]
    ordered = {**params, "ordering": "-name"}
    assert api_page_through(agent_api, ordered) == ["Smith 5", "Smith 3", "Smith 1"]


@needs_postgresql
def test_the_api_search_walks_a_bounded_part_of_the_names_then_asks_the_trigram_index(
    agent_api, monkeypatch
):
    """As the customer list (test_a_search_walks_a_bounded_part_of_…): the page's ids and the
    capped count (no order: PostgreSQL's choice) walk at most SEARCH_WALK entries of the names."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 100)
    Customer.objects.bulk_create(
        [Customer(name=f"Aaron {n:04}", email=f"a{n}@example.com") for n in range(2000)]
        + [Customer(name=f"Michael {n:04}", email=f"m{n}@example.com") for n in range(1100)]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    for params in ({"search": "michael"}, {"search": "michael", "page": 3}):
        for sql in api_search_sql(agent_api, params):
            assert names_walked(explain_analyze(sql)) <= 100, sql
    body = agent_api.get("/api/v1/customers/", {"search": "michael", "page": 3}).json()
    assert [row["name"] for row in body["results"]] == [f"Michael {n:04}" for n in range(100, 150)]
    assert (body["count"], body["count_exact"]) == (1000, False)


def michaels_after_aarons() -> list[str]:
    """12 customers named Aaron, then the ones matching "michael" (in an email, a first name,
    inside a last name); returns the matches' names in name order."""
    for n in range(12):
        CustomerFactory(name=f"Aaron {n:02}", email=f"a{n}@example.com", company="Acme")
    CustomerFactory(name="Ada Zed", email="michael.ada@example.com", company="Acme")
    for n in range(9):
        CustomerFactory(name=f"Michael {n}", email=f"m{n}@example.com", company="Acme")
    CustomerFactory(name="Zoe Dimichaelis", email="z@example.com", company="Acme")
    return ["Ada Zed", *(f"Michael {n}" for n in range(9)), "Zoe Dimichaelis"]

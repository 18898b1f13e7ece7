"""Customer search through the index of words (customers.models.SearchWord, SearchPosting,
migration 0012's triggers; customers.selectors.first_matches): every page equals the plain
ordered query's, whatever wrote the customers, on PostgreSQL and SQLite."""

from __future__ import annotations

import importlib
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import selectors
from customers.api.views import CustomerPagination
from customers.models import Customer, SearchPosting, SearchWord
from tests.channels.racing import second_waits_for_first
from tests.customers.test_search import api_page_through, explain_analyze, page_through, runs_of
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the index of words is PostgreSQL's"
)

FIRSTS = ["Michael", "Mary", "Ann", "Michaela", "José", "Zoë", "Ada", "Lee", "Marymount"]
LASTS = ["Smith", "McMichael", "Dimichaelis", "Goldsmith", "Jones", "Ñúñez", "Marys", "Lee"]
COMPANIES = ["Acme", "Michael & Sons", "Smith-Jones Ltd", "", "Büro 123", "Maryland Co"]
TERMS = [
    "michael",
    "mary",
    "smith",
    "jos",
    "son",
    "123",
    "com",
    "acme",
    "ael",
    "quillfeather",
    # Not served by the words (other characters, too short): the trigram index.
    "ann lee",
    "josé",
    "smith-jones",
    "mi",
    "50%",
]


def realistic_customers(count: int, *, seed: int = 17, owner=None) -> list[Customer]:
    rng = random.Random(seed)
    customers = []
    for n in range(count):
        first, last = rng.choice(FIRSTS), rng.choice(LASTS)
        domain = rng.choice(["example.com", "mail.org"])
        customers.append(
            Customer(
                name=f"{first} {last}",
                email=f"{rng.choice(FIRSTS).lower()}.{seed}.{n}@{domain}",
                company=rng.choice(COMPANIES),
                owner=owner,
            )
        )
    return Customer.objects.bulk_create(customers)


def plain(customers, term: str, count: int, offset: int = 0) -> list[int]:
    matches = customers.search(term).order_by("name", "id").values_list("pk", flat=True)
    return list(matches[offset : offset + count])


def found(customers, term: str, count: int, offset: int = 0) -> list[int]:
    ids = selectors.first_matches(customers, term, count, offset=offset)
    rows = Customer.objects.filter(pk__in=ids).order_by("name", "id")
    return list(rows.values_list("pk", flat=True))


def assert_exact(customers=None, terms=TERMS) -> None:
    """Every page (several sizes and offsets) of every term equals the plain query's."""
    customers = Customer.objects.all() if customers is None else customers
    for term in terms:
        for count, offset in ((1, 0), (5, 0), (5, 3), (7, 20), (50, 0), (10, 200)):
            assert found(customers, term, count, offset) == plain(customers, term, count, offset), (
                term,
                count,
                offset,
            )


@pytest.fixture
def no_walk(monkeypatch):
    """A walk of one name: pages are found by the words (or the trigram index)."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 1)


def test_every_page_of_every_term_equals_the_plain_query(no_walk):
    realistic_customers(300)
    CustomerFactory(name="Ada Quillfeather", email="", company="")
    assert_exact()


def test_a_customer_found_through_several_words_is_listed_once(no_walk):
    # "michael" in the name, the email and the company, and in three different words.
    ada = CustomerFactory(
        name="Michael McMichael", email="michaela@example.com", company="Michael & Sons"
    )
    CustomerFactory(name="Zed", email="z@example.com", company="")
    assert found(Customer.objects.all(), "michael", 10) == [ada.pk]


def test_a_term_in_too_many_words_is_found_by_the_trigram_index(no_walk, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_WORDS", 2)
    realistic_customers(120)
    assert_exact(terms=["ael", "mary", "com"])


def test_writes_of_every_kind_keep_the_search_exact(no_walk):
    """bulk_create (above), save, queryset update, raw SQL, delete."""
    customers = realistic_customers(60)
    michael = CustomerFactory(name="Michael Zed", email="mz@example.com", company="Acme")
    michael.name = "Mary Zed"
    michael.save()
    assert michael.pk not in found(Customer.objects.all(), "michael", 50)
    Customer.objects.filter(pk=customers[0].pk).update(email="new.michaelson@example.com")
    Customer.objects.filter(pk=customers[1].pk).update(company="Quillfeather Ltd")
    Customer.objects.filter(pk__in=[c.pk for c in customers[2:10]]).update(name="Aaron Smithers")
    Customer.objects.filter(pk=customers[10].pk).update(notes="not searched")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET name = upper(name) WHERE id = %s", [customers[11].pk]
        )
    Customer.objects.filter(pk__in=[c.pk for c in customers[20:40]]).delete()
    Customer.objects.filter(pk=customers[40].pk).update(id=10**9)  # a raw id change
    assert_exact(terms=[*TERMS, "michaelson", "smithers"])


def test_owned_customers_only_in_owned_mode(no_walk, settings, agent_client, agent):
    settings.CUSTOMER_VISIBILITY = "owned"
    settings.CUSTOMER_PAGE_SIZE = 3
    other = UserFactory(username="other", role="Agent")
    realistic_customers(80, seed=1, owner=other)
    realistic_customers(40, seed=2, owner=agent)
    assert {c.owner for c in Customer.objects.search("michael")} == {agent, other}
    expected = Customer.objects.filter(owner=agent).search("michael").order_by("name", "id")
    assert page_through(agent_client, "michael") == [c.name for c in expected]
    assert_exact(Customer.objects.filter(owner=agent))


def test_cursor_and_offset_pages_equal_the_plain_query(no_walk, settings, agent_client, agent_api):
    settings.CUSTOMER_PAGE_SIZE = 4
    realistic_customers(90)
    for term in ("michael", "mary", "smith", "jos"):
        expected = list(
            Customer.objects.search(term).order_by("name", "id").values_list("name", flat=True)
        )
        assert page_through(agent_client, term) == expected, term
        assert api_page_through(agent_api, {"search": term, "page_size": 3}) == expected, term


def test_the_api_counts_a_search_as_the_plain_capped_count(agent_api, monkeypatch):
    """Up to the cap exactly, beyond it the cap and count_exact false: through the words (a
    word with as many customers as the cap, several words with fewer, a customer in two
    words), among the other filters, or through the trigram index."""
    monkeypatch.setattr(CustomerPagination, "count_limit", 6)
    realistic_customers(150)
    for term in ("michael", "mary", "jos", "quillfeather", "zoë", "acme", "ann lee", "123"):
        for filters in ({}, {"company": "acme"}, {"company": "büro 123"}):
            matches = Customer.objects.filter(
                **({"company__iexact": filters["company"]} if filters else {})
            ).search(term)
            n = matches.count()
            capped = n > 6 and connection.vendor == "postgresql"  # SQLite counts exactly
            expected = (6, False) if capped else (n, True)
            body = agent_api.get("/api/v1/customers/", {"search": term, **filters}).json()
            assert (body["count"], body["count_exact"]) == expected, (term, filters)


def test_a_search_runs_as_many_queries_on_more_customers(no_walk, agent_client):
    def queries_for(term: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            agent_client.get(reverse("customer-list"), {"q": term})
        return len(captured.captured_queries)

    realistic_customers(5, seed=3)
    few = [queries_for(term) for term in ("michael", "ann lee")]
    realistic_customers(200, seed=4)
    assert [queries_for(term) for term in ("michael", "ann lee")] == few


def postings_read(nodes: list[dict]) -> int:
    return sum(
        node["Actual Rows"] * node["Actual Loops"]
        for node in nodes
        if node.get("Relation Name") == "customers_searchposting"
    )


def page_sql(user, term: str, cursor: str | None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        selectors.customer_page(user=user, query=term, cursor=cursor)
    return [q["sql"] for q in queries.captured_queries]


@needs_postgresql
def test_a_first_name_is_found_through_its_words_without_the_trigram_index(agent, monkeypatch):
    """Matches sitting together far along the names ("michael": every Michael after the "A…"
    to "Mi…"): past the walk, the words containing the term give the page (a page per word,
    each customer looked up by primary key), and the trigram branch does not run."""
    monkeypatch.setattr(selectors, "SEARCH_WALK", 100)
    Customer.objects.bulk_create(
        [Customer(name=f"Aaron {n:04}", email=f"a{n}@example.com") for n in range(2000)]
        + [Customer(name=f"Michael {n:03}", email=f"m{n}@example.com") for n in range(300)]
        + [Customer(name=f"Zoe McMichael {n}", email=f"z{n}@example.com") for n in range(30)]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ids = selectors.first_matches(Customer.objects.all(), "michael", 26)
    nodes = explain_analyze(connection.ops.compose_sql(ids.sql, ids.params))
    assert runs_of(nodes, "CTE found") == 0
    assert postings_read(nodes) <= 2 * 26  # two words: michael, mcmichael
    # Among some customers only (an owner, the API's filters): each looked up by primary key.
    ids = selectors.first_matches(Customer.objects.filter(owner=None), "michael", 26)
    nodes = explain_analyze(connection.ops.compose_sql(ids.sql, ids.params))
    assert runs_of(nodes, "CTE found") == 0
    assert postings_read(nodes) <= 2 * 26
    customer_reads = {
        (node["Node Type"], node.get("Index Name"))
        for node in nodes
        if node.get("Relation Name") == "customers_customer" and node["Actual Loops"]
    }
    assert customer_reads == {("Index Scan", "customers_customer_pkey")}
    page = selectors.customer_page(user=agent, query="michael")
    assert [c.name for c in page.items] == [f"Michael {n:03}" for n in range(25)]
    # A later page starts in each word's list where the cursor is: the same reads.
    page = selectors.customer_page(user=agent, query="michael", cursor=page.next_cursor)
    assert [c.name for c in page.items] == [f"Michael {n:03}" for n in range(25, 50)]
    [sql] = [sql for sql in page_sql(agent, "michael", page.next_cursor) if " LIKE " in sql]
    nodes = explain_analyze(sql)
    assert runs_of(nodes, "CTE found") == 0
    assert postings_read(nodes) <= 2 * 26


@needs_postgresql
def test_the_migration_indexes_the_customers_stored_before(no_walk):
    """Its fill (one INSERT … SELECT over the customers) gives what the triggers keep."""
    realistic_customers(50)
    kept = set(SearchPosting.objects.values_list("word", "name", "customer_id"))
    migration = importlib.import_module("customers.migrations.0012_search_words")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_searchposting, customers_searchword")
        cursor.execute(f"DO $$ BEGIN {migration.add('customers_customer')} END $$")
    assert set(SearchPosting.objects.values_list("word", "name", "customer_id")) == kept
    assert {"michael", "josé", "ñúñez", "büro", "123", "com"} <= set(
        SearchWord.objects.values_list("word", flat=True)
    )
    assert_exact(terms=["michael", "jos", "123"])


@needs_postgresql
def test_deleting_customers_forgets_the_words_no_one_else_has():
    """An erasure leaves nothing of the customer's text in the vocabulary."""
    gone = CustomerFactory(name="Ada Quillfeather", email="ada.q@example.com", company="Acme")
    CustomerFactory(name="Ada Smith", email="smith@example.com", company="Acme")
    gone.delete()
    words = set(SearchWord.objects.values_list("word", flat=True))
    assert {"ada", "example", "com", "acme", "smith"} <= words
    assert not {"quillfeather", "q"} & words


@needs_postgresql
def test_an_erasure_forgets_the_words_of_names_a_customer_had_before():
    """A rename leaves the old name's words behind (linked to no one); erasing the customer
    takes them out of the vocabulary too, and only the words no customer has."""
    from customers.privacy import erase_customer

    ada = CustomerFactory(name="Ada Quillfeather", email="ada@example.com", company="Acme")
    CustomerFactory(name="Ada Smith", email="smith@example.com", company="Acme")
    ada.name = "Ada Lovelace"
    ada.save()
    assert SearchWord.objects.filter(word="quillfeather").exists()  # an edit leaves it

    erase_customer(customer=ada, actor=None)

    words = set(SearchWord.objects.values_list("word", flat=True))
    assert {"ada", "smith", "example", "com", "acme"} <= words
    assert not {"quillfeather", "lovelace"} & words


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_word_stored_while_its_last_customer_is_deleted_stays():
    """The delete waits for the customer being stored with the same word, then keeps it."""
    ada = CustomerFactory(name="Ada Zyxwv")
    outcome = second_waits_for_first(
        lambda: CustomerFactory(name="Bob Zyxwv").pk,
        lambda: Customer.objects.filter(pk=ada.pk).delete(),
    )
    assert SearchWord.objects.filter(word="zyxwv").exists()
    assert found(Customer.objects.all(), "zyxwv", 5) == [outcome["first"]]


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_truncating_the_customers_empties_the_index(monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_WALK", 1)
    realistic_customers(20)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customer CASCADE")
    assert not SearchPosting.objects.exists()
    assert not SearchWord.objects.exists()
    realistic_customers(20, seed=5)
    assert_exact(terms=["michael", "mary"])
    # Django's flush truncates the customers and the index in one statement.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, customers_searchposting, customers_searchword CASCADE"
        )
    assert not SearchPosting.objects.exists()

"""The REST API under /api/v1/: customers, interactions, journey stages, auth and schema."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Customer, Interaction, JourneyStage
from tests.factories import CustomerFactory, InteractionFactory, UserFactory, api_token

CUSTOMERS = "/api/v1/customers/"
INTERACTIONS = "/api/v1/interactions/"
STAGES = "/api/v1/stages/"


def customer_url(pk: int | str) -> str:
    return f"{CUSTOMERS}{pk}/"


def interaction_url(pk: int | str) -> str:
    return f"{INTERACTIONS}{pk}/"


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def names_of(body: dict) -> list[str]:
    return [row["name"] for row in body["results"]]


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def count_queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.fixture
def other_agent(db):
    return UserFactory(username="other-agent", role="Agent")


@pytest.fixture
def session_api(agent):
    """Logged in through the session: every request loads the user and its permissions afresh,
    so query counts do not depend on what an earlier request cached."""
    client = APIClient()
    client.force_login(agent)
    return client


@pytest.fixture
def interaction(customer, agent):
    return InteractionFactory(customer=customer, agent=agent, subject="Parcel late")


def interaction_body(customer: Customer, /, **overrides) -> dict:
    body = {
        "customer": customer.pk,
        "channel": "email",
        "direction": "inbound",
        "stage": "complaint",
        "subject": "Parcel late",
        "body": "Still waiting for my order.",
    }
    body.update(overrides)
    return body


# --- Customers: CRUD -------------------------------------------------------------------------


def test_customer_list_returns_customers_in_name_order(agent_api):
    CustomerFactory(name="Zed")
    CustomerFactory(name="Ada")
    response = agent_api.get(CUSTOMERS)
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert response.json()["count_exact"] is True
    assert names(response) == ["Ada", "Zed"]


def test_customer_list_is_paginated_by_page_number(agent_api):
    CustomerFactory.create_batch(5)
    response = agent_api.get(CUSTOMERS, {"page_size": 2, "page": 3})
    assert response.status_code == 200
    assert response.json()["count"] == 5
    assert len(response.json()["results"]) == 1
    assert response.json()["next"] is None


def test_customer_list_page_out_of_range_is_404(agent_api, customer):
    assert agent_api.get(CUSTOMERS, {"page": 99}).status_code == 404


# --- Customers: a count that stays cheap (memorycrm/lib/pagination.py) -------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the estimate is PostgreSQL's (SQLite counts)"
)


@pytest.fixture
def count_limit(monkeypatch):
    """Counting stops at 3 customers instead of 1,000."""
    from customers.api.views import CustomerPagination

    monkeypatch.setattr(CustomerPagination, "count_limit", 3)
    return 3


def analyze_customers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")


def test_customer_list_count_is_exact_up_to_the_limit(agent_api, count_limit):
    CustomerFactory.create_batch(3)
    body = agent_api.get(CUSTOMERS).json()
    assert (body["count"], body["count_exact"]) == (3, True)


@needs_postgresql
def test_customer_list_count_beyond_the_limit_is_postgresqls_estimate(agent_api, count_limit):
    CustomerFactory.create_batch(7)
    analyze_customers()  # the table's statistics: 7 rows
    CustomerFactory.create_batch(2)  # not counted yet: an estimate, not a count
    body = agent_api.get(CUSTOMERS, {"page_size": 4}).json()
    assert (body["count"], body["count_exact"]) == (7, False)
    assert len(body["results"]) == 4
    assert "page=2" in body["next"]


@needs_postgresql
def test_filtered_customer_list_beyond_the_limit_counts_up_to_it(agent_api, count_limit):
    for n in range(5):
        CustomerFactory(name=f"Smith {n}", email=f"s{n}@example.com", company="Acme")
    CustomerFactory(name="Jones", email="j@example.com", company="Acme")
    analyze_customers()
    body = agent_api.get(CUSTOMERS, {"search": "smith"}).json()
    assert (body["count"], body["count_exact"]) == (3, False)  # at least 3
    assert names_of(body) == [f"Smith {n}" for n in range(5)]


def test_customer_pages_beyond_the_count_limit_follow_next_to_the_end(agent_api, count_limit):
    CustomerFactory.create_batch(7)
    analyze_customers()
    expected = list(Customer.objects.order_by("name", "id").values_list("id", flat=True))
    seen, url = [], f"{CUSTOMERS}?page_size=2"
    while url:
        body = agent_api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == expected
    assert agent_api.get(CUSTOMERS, {"page_size": 2, "page": 5}).status_code == 404


def test_a_huge_page_number_beyond_an_estimated_count_is_a_404(agent_api, count_limit):
    CustomerFactory.create_batch(5)
    analyze_customers()
    assert agent_api.get(CUSTOMERS, {"page": "9" * 30}).status_code == 404
    assert agent_api.get(CUSTOMERS, {"search": "a", "page": "9" * 30}).status_code == 404


def test_customer_list_last_page_is_the_real_last_page(agent_api, count_limit):
    CustomerFactory.create_batch(7)
    analyze_customers()
    CustomerFactory.create_batch(2)  # 9 customers; the estimate still says 7
    body = agent_api.get(CUSTOMERS, {"page_size": 2, "page": "last"}).json()
    assert len(body["results"]) == 1
    assert body["next"] is None


def test_customer_list_count_is_one_query_however_many_customers(session_api, agent, count_limit):
    CustomerFactory.create_batch(2, owner=agent)
    small = count_queries(session_api, CUSTOMERS)
    CustomerFactory.create_batch(20, owner=agent)
    analyze_customers()
    assert count_queries(session_api, CUSTOMERS) == small


def test_a_customer_search_takes_as_many_queries_as_the_list(session_api, agent, count_limit):
    """Its page's ids and its count are found another way (customers.selectors.first_matches),
    each within the query that reads them."""
    CustomerFactory.create_batch(6, owner=agent, company="Acme")
    listed = count_queries(session_api, f"{CUSTOMERS}?page_size=2&page=2")
    assert count_queries(session_api, f"{CUSTOMERS}?search=acme&page_size=2&page=2") == listed


def test_customer_retrieve(agent_api, customer):
    response = agent_api.get(customer_url(customer.pk))
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"
    assert response.json()["email"] == "ada@example.com"


def test_customer_create(agent_api, agent):
    response = agent_api.post(
        CUSTOMERS,
        {"name": "  Grace Hopper ", "email": "grace@example.com", "timezone": "Europe/Paris"},
        format="json",
    )
    assert response.status_code == 201, response.content
    customer = Customer.objects.get(pk=response.json()["id"])
    assert customer.name == "Grace Hopper"
    assert customer.timezone == "Europe/Paris"
    assert response.json()["owner"] is None


def test_customer_create_with_owner_id(agent_api, agent):
    response = agent_api.post(CUSTOMERS, {"name": "Grace", "owner": agent.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["owner"] == agent.pk
    assert Customer.objects.get(pk=response.json()["id"]).owner == agent


def test_customer_create_with_owner_outside_roles_is_400(agent_api, no_role_user):
    response = agent_api.post(CUSTOMERS, {"name": "Grace", "owner": no_role_user.pk}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()


def test_customer_create_with_unknown_owner_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, {"name": "Grace", "owner": 987654}, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["owner"][0]


def test_customer_put_replaces_fields(agent_api, customer):
    response = agent_api.put(
        customer_url(customer.pk),
        {"name": "Ada King", "email": "ada.king@example.com", "company": ""},
        format="json",
    )
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.company) == (
        "Ada King",
        "ada.king@example.com",
        "",
    )


def test_customer_patch_changes_given_fields(agent_api, customer):
    response = agent_api.patch(customer_url(customer.pk), {"survey_opt_out": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["survey_opt_out"] is True
    customer.refresh_from_db()
    assert customer.survey_opt_out is True
    assert customer.name == "Ada Lovelace"


def test_customer_patch_with_empty_body_changes_nothing(agent_api, customer):
    response = agent_api.patch(customer_url(customer.pk), {}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"


def test_customer_created_at_is_read_only(agent_api, customer):
    created_at = customer.created_at
    agent_api.patch(
        customer_url(customer.pk), {"created_at": "2001-01-01T00:00:00Z"}, format="json"
    )
    customer.refresh_from_db()
    assert customer.created_at == created_at


def test_admin_can_delete_customer(api_client, admin_user, customer):
    api_client.force_authenticate(admin_user)
    InteractionFactory(customer=customer)
    response = api_client.delete(customer_url(customer.pk))
    assert response.status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Interaction.objects.filter(customer_id=customer.pk).exists()


def test_manager_cannot_delete_customer_as_erase_is_for_admins(manager_api, customer):
    """DELETE erases (customers.services.delete_customer): the same permission as /erase/."""
    assert (
        manager_api.post(customer_url(customer.pk) + "erase/", {"confirm": customer.pk}).status_code
        == 403
    )
    response = manager_api.delete(customer_url(customer.pk))
    assert response.status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_agent_cannot_delete_customer(agent_api, customer):
    response = agent_api.delete(customer_url(customer.pk))
    assert response.status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


# --- Customers: validation -------------------------------------------------------------------


def test_customer_create_without_name_is_400_naming_the_field(agent_api):
    response = agent_api.post(CUSTOMERS, {"email": "x@example.com"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_customer_create_with_blank_name_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, {"name": "   "}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_customer_create_with_invalid_email_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, {"name": "Grace", "email": "nope"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_customer_create_with_unknown_timezone_is_400(agent_api):
    response = agent_api.post(
        CUSTOMERS, {"name": "Grace", "timezone": "Mars/Olympus"}, format="json"
    )
    assert response.status_code == 400
    assert "timezone" in response.json()


def test_customer_create_with_duplicate_email_is_400_from_the_service(agent_api, customer):
    response = agent_api.post(
        CUSTOMERS, {"name": "Ada 2", "email": "ADA@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert "A customer with this email already exists." in str(response.json())
    assert Customer.objects.count() == 1


def test_customer_update_to_duplicate_email_is_400(agent_api, customer):
    other = CustomerFactory(email="grace@example.com")
    response = agent_api.patch(customer_url(other.pk), {"email": "ada@example.com"}, format="json")
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.email == "grace@example.com"


def test_customer_create_with_duplicate_external_ref_is_400(agent_api):
    CustomerFactory(external_ref="CRM-1")
    response = agent_api.post(CUSTOMERS, {"name": "Grace", "external_ref": "CRM-1"}, format="json")
    assert response.status_code == 400
    assert "external reference" in str(response.json())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", {"first": "Ada"}),
        ("name", ["Ada"]),
        ("name", None),
        ("name", "x" * 10_000),
        ("name", "Ada\x00Lovelace"),
        ("email", "ada\x00@example.com"),
        ("company", "x" * 201),
        ("notes", "line\x00"),
        ("timezone", "Europe/\x00Paris"),
        ("survey_opt_out", "maybe"),
        ("survey_opt_out", [True]),
        ("owner", "abc"),
        ("owner", 1.5),
        ("owner", True),
        ("owner", [1]),
        ("owner", 10**30),
        ("owner", "\x00"),
    ],
)
def test_customer_create_with_malformed_field_is_400_naming_it(agent_api, field, value):
    body = {"name": "Grace", field: value}
    response = agent_api.post(CUSTOMERS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_customer_create_with_non_json_body_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_customer_create_with_json_array_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, [{"name": "Grace"}], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_customer_create_with_json_scalar_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, "42", content_type="application/json")
    assert response.status_code == 400


def test_customer_create_with_invalid_utf8_is_400(agent_api):
    response = agent_api.post(CUSTOMERS, b'{"name": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400


def test_customer_create_with_unsupported_media_type_is_415(agent_api):
    response = agent_api.post(CUSTOMERS, "name=Grace", content_type="text/plain")
    assert response.status_code == 415


def test_customer_create_from_form_encoded_body(agent_api):
    response = agent_api.post(CUSTOMERS, {"name": "Grace"})
    assert response.status_code == 201


# --- Customers: search, filters, ordering ----------------------------------------------------


@pytest.mark.parametrize("param", ["search", "q"])
def test_customer_search_matches_name_email_or_company(agent_api, param):
    CustomerFactory(name="Ada Lovelace", email="ada@example.com", company="Analytical")
    CustomerFactory(name="Grace Hopper", email="grace@navy.example", company="Navy")
    CustomerFactory(name="Alan Turing", email="alan@example.com", company="Bletchley Analytics")
    response = agent_api.get(CUSTOMERS, {param: "  ANALYTIC "})
    assert response.status_code == 200
    assert names(response) == ["Ada Lovelace", "Alan Turing"]


def test_customer_search_with_nul_byte_is_400(agent_api):
    response = agent_api.get(CUSTOMERS, {"q": "ada\x00"})
    assert response.status_code == 400
    assert "q" in response.json()


def test_customer_filter_by_company(agent_api):
    CustomerFactory(name="Ada", company="Analytical")
    CustomerFactory(name="Grace", company="Navy")
    assert names(agent_api.get(CUSTOMERS, {"company": "navy"})) == ["Grace"]


def test_customer_filter_by_email(agent_api):
    CustomerFactory(name="Ada", email="ada@example.com")
    CustomerFactory(name="Grace", email="grace@example.com")
    assert names(agent_api.get(CUSTOMERS, {"email": "GRACE@example.com"})) == ["Grace"]


def test_customer_filter_by_owner(agent_api, agent, other_agent):
    CustomerFactory(name="Ada", owner=agent)
    CustomerFactory(name="Grace", owner=other_agent)
    assert names(agent_api.get(CUSTOMERS, {"owner": other_agent.pk})) == ["Grace"]


def test_customer_filter_by_unknown_owner_is_400(agent_api):
    response = agent_api.get(CUSTOMERS, {"owner": 987654})
    assert response.status_code == 400
    assert "owner" in response.json()


def test_customer_filter_by_created_at_range(agent_api):
    now = timezone.now()
    CustomerFactory(name="Old", created_at=now - timedelta(days=30))
    CustomerFactory(name="Recent", created_at=now - timedelta(days=3))
    CustomerFactory(name="New", created_at=now)
    response = agent_api.get(
        CUSTOMERS,
        {
            "created_after": (now - timedelta(days=10)).isoformat(),
            "created_before": (now - timedelta(days=1)).isoformat(),
        },
    )
    assert names(response) == ["Recent"]


def test_customer_filter_by_created_after_a_date(agent_api):
    CustomerFactory(name="Old", created_at=timezone.now() - timedelta(days=400))
    CustomerFactory(name="New")
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert names(agent_api.get(CUSTOMERS, {"created_after": since})) == ["New"]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "99999-01-01T00:00:00Z"])
def test_customer_filter_with_invalid_date_is_400(agent_api, value):
    response = agent_api.get(CUSTOMERS, {"created_after": value})
    assert response.status_code == 400
    assert "created_after" in response.json()


def test_customer_filter_by_survey_opt_out(agent_api):
    CustomerFactory(name="Ada", survey_opt_out=True)
    CustomerFactory(name="Grace", survey_opt_out=False)
    assert names(agent_api.get(CUSTOMERS, {"survey_opt_out": "true"})) == ["Ada"]
    assert names(agent_api.get(CUSTOMERS, {"survey_opt_out": "false"})) == ["Grace"]


def test_customer_ordering_by_created_at_descending(agent_api):
    now = timezone.now()
    CustomerFactory(name="B", created_at=now - timedelta(days=2))
    CustomerFactory(name="A", created_at=now - timedelta(days=1))
    CustomerFactory(name="C", created_at=now - timedelta(days=3))
    assert names(agent_api.get(CUSTOMERS, {"ordering": "-created_at"})) == ["A", "B", "C"]


def test_customer_ordering_on_undeclared_field_is_ignored(agent_api):
    CustomerFactory(name="B", email="a@example.com")
    CustomerFactory(name="A", email="b@example.com")
    assert names(agent_api.get(CUSTOMERS, {"ordering": "email"})) == ["A", "B"]


def test_customer_ordering_ties_are_broken_by_id(agent_api):
    created = [CustomerFactory(name="Same").pk for _ in range(4)]
    assert ids(agent_api.get(CUSTOMERS, {"ordering": "name"})) == sorted(created)
    assert ids(agent_api.get(CUSTOMERS, {"ordering": "-name"})) == sorted(created, reverse=True)


# --- Customers: 404 and visibility -----------------------------------------------------------


@pytest.mark.parametrize("pk", ["987654", "abc", "1.5", str(10**30), "%00"])
def test_customer_unknown_id_is_404(agent_api, customer, pk):
    assert agent_api.get(customer_url(pk)).status_code == 404


def test_customer_of_another_agent_is_404_under_owned_visibility(
    owned_visibility, agent_api, other_agent
):
    theirs = CustomerFactory(owner=other_agent)
    assert agent_api.get(customer_url(theirs.pk)).status_code == 404


def test_customer_of_another_agent_cannot_be_changed_under_owned_visibility(
    owned_visibility, agent_api, other_agent
):
    theirs = CustomerFactory(name="Theirs", owner=other_agent)
    response = agent_api.patch(customer_url(theirs.pk), {"name": "Mine"}, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_customer_list_shows_only_own_customers_under_owned_visibility(
    owned_visibility, agent_api, agent, other_agent
):
    CustomerFactory(name="Mine", owner=agent)
    CustomerFactory(name="Theirs", owner=other_agent)
    assert names(agent_api.get(CUSTOMERS)) == ["Mine"]


def test_manager_sees_every_customer_under_owned_visibility(
    owned_visibility, manager_api, other_agent
):
    theirs = CustomerFactory(owner=other_agent)
    assert manager_api.get(customer_url(theirs.pk)).status_code == 200


def test_customer_list_query_count_does_not_grow_with_rows(session_api, agent):
    CustomerFactory.create_batch(10, owner=agent)
    small = count_queries(session_api, f"{CUSTOMERS}?page_size=200")
    CustomerFactory.create_batch(190, owner=agent)
    large = count_queries(session_api, f"{CUSTOMERS}?page_size=200")
    assert small == large


def test_customer_list_runs_a_fixed_number_of_queries(
    session_api, agent, django_assert_num_queries
):
    CustomerFactory.create_batch(30, owner=agent)
    # session, user, user permissions, group permissions, count, page
    with django_assert_num_queries(6):
        assert session_api.get(CUSTOMERS).status_code == 200


# --- Interactions: create --------------------------------------------------------------------


def test_interaction_create(agent_api, agent, customer):
    response = agent_api.post(INTERACTIONS, interaction_body(customer), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    interaction = Interaction.objects.get(pk=data["id"])
    assert interaction.customer == customer
    assert interaction.stage.slug == "complaint"
    assert data["stage"] == "complaint"
    assert data["customer"] == customer.pk


def test_interaction_create_sets_agent_to_the_requesting_user(
    agent_api, agent, other_agent, customer
):
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, agent=other_agent.pk), format="json"
    )
    assert response.status_code == 201
    assert response.json()["agent"] == agent.pk
    assert Interaction.objects.get().agent == agent


def test_interaction_create_leaves_sentiment_pending(agent_api, customer):
    body = interaction_body(
        customer,
        sentiment_label="positive",
        sentiment_score=0.9,
        sentiment_confidence=0.99,
        sentiment_model="forged",
        scored_at="2026-01-01T00:00:00Z",
    )
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 201
    interaction = Interaction.objects.get()
    assert interaction.sentiment_label == ""
    assert interaction.sentiment_score is None
    assert interaction.scored_at is None
    assert response.json()["sentiment_label"] == ""


def test_interaction_create_queues_scoring_after_commit(
    agent_api, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_api.post(INTERACTIONS, interaction_body(customer), format="json")
    assert response.status_code == 201
    assert len(callbacks) == 1


def test_interaction_create_defaults_occurred_at_to_now(agent_api, customer):
    before = timezone.now()
    response = agent_api.post(INTERACTIONS, interaction_body(customer), format="json")
    assert response.status_code == 201
    assert before <= Interaction.objects.get().occurred_at <= timezone.now()


def test_interaction_create_with_explicit_occurred_at(agent_api, customer):
    body = interaction_body(customer, occurred_at="2026-01-02T09:30:00+01:00")
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 201
    assert Interaction.objects.get().occurred_at.isoformat() == "2026-01-02T08:30:00+00:00"


def test_interaction_create_without_stage(agent_api, customer):
    response = agent_api.post(INTERACTIONS, interaction_body(customer, stage=None), format="json")
    assert response.status_code == 201
    assert response.json()["stage"] is None


def test_interaction_create_for_a_customer_id_given_as_a_string(agent_api, customer):
    body = interaction_body(customer, customer=str(customer.pk))
    assert agent_api.post(INTERACTIONS, body, format="json").status_code == 201


def test_interaction_create_in_the_far_future_is_400(agent_api, customer):
    later = (timezone.now() + timedelta(days=2)).isoformat()
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, occurred_at=later), format="json"
    )
    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert not Interaction.objects.exists()


def test_interaction_create_without_subject_or_body_is_400(agent_api, customer):
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, subject="", body="  "), format="json"
    )
    assert response.status_code == 400
    assert "body" in response.json()


def test_interaction_create_without_channel_or_customer_is_400(agent_api):
    response = agent_api.post(INTERACTIONS, {"subject": "Hello"}, format="json")
    assert response.status_code == 400
    assert {"channel", "customer"} <= set(response.json())


def test_interaction_create_with_unknown_stage_slug_is_400(agent_api, customer):
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, stage="nirvana"), format="json"
    )
    assert response.status_code == 400
    assert "stage" in response.json()


def test_interaction_create_with_stage_id_instead_of_slug_is_400(agent_api, customer):
    stage = JourneyStage.objects.get(slug="complaint")
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, stage=stage.pk), format="json"
    )
    assert response.status_code == 400
    assert "stage" in response.json()


def test_interaction_create_with_unknown_customer_is_400(agent_api, customer):
    body = interaction_body(customer, customer=987654)
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["customer"][0]


def test_interaction_create_for_another_agents_customer_is_400_under_owned_visibility(
    owned_visibility, agent_api, other_agent
):
    theirs = CustomerFactory(owner=other_agent)
    response = agent_api.post(INTERACTIONS, interaction_body(theirs), format="json")
    assert response.status_code == 400
    # The same answer as for an id that does not exist: nothing leaks about their customer.
    assert response.json()["customer"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer", "abc"),
        ("customer", "1.5"),
        ("customer", True),
        ("customer", None),
        ("customer", {"id": 1}),
        ("customer", 10**30),
        ("customer", "\x00"),
        ("channel", "fax"),
        ("channel", ["email"]),
        ("direction", "sideways"),
        ("occurred_at", "yesterday"),
        ("occurred_at", 1700000000),
        ("occurred_at", None),
        ("occurred_at", "2026-02-30T10:00:00Z"),
        ("occurred_at", "10000-01-01T00:00:00Z"),
        ("occurred_at", "0001-01-01T00:00:00+05:00"),
        ("occurred_at", "9999-12-31T23:59:59Z"),
        ("stage", "\x00"),
        ("stage", ["complaint"]),
        ("subject", "x" * 201),
        ("subject", "Hi\x00"),
        ("body", "Hello\x00world"),
        ("body", {"text": "Hello"}),
        ("external_ref", "x" * 101),
    ],
)
def test_interaction_create_with_malformed_field_is_400_naming_it(
    agent_api, customer, field, value
):
    response = agent_api.post(
        INTERACTIONS, interaction_body(customer, **{field: value}), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_interaction_create_with_non_json_body_is_400(agent_api):
    response = agent_api.post(INTERACTIONS, '{"channel": ', content_type="application/json")
    assert response.status_code == 400


def test_interaction_create_with_json_array_is_400(agent_api, customer):
    response = agent_api.post(INTERACTIONS, [interaction_body(customer)], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_interaction_create_with_a_long_body_is_stored(agent_api, customer):
    body = interaction_body(customer, body="word " * 20_000)
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 201
    assert len(Interaction.objects.get().body) == len("word " * 20_000) - 1


def test_interaction_create_with_a_body_over_the_upload_limit_is_413(agent_api, customer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = interaction_body(customer, body="x" * 20_000)
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not Interaction.objects.exists()


# --- Interactions: read, filters, pagination -------------------------------------------------


def test_interaction_list_is_newest_first(agent_api, customer):
    now = timezone.now()
    old = InteractionFactory(customer=customer, occurred_at=now - timedelta(days=2))
    new = InteractionFactory(customer=customer, occurred_at=now - timedelta(hours=1))
    response = agent_api.get(INTERACTIONS)
    assert response.status_code == 200
    assert ids(response) == [new.pk, old.pk]
    assert response.json()["results"][0]["stage"] == "support"


def test_interaction_retrieve(agent_api, interaction, agent):
    response = agent_api.get(interaction_url(interaction.pk))
    assert response.status_code == 200
    data = response.json()
    assert data["subject"] == "Parcel late"
    assert data["agent"] == agent.pk
    assert data["sentiment_label"] == ""
    assert data["scored_at"] is None


@pytest.mark.parametrize("pk", ["987654", "abc", str(10**30)])
def test_interaction_unknown_id_is_404(agent_api, interaction, pk):
    assert agent_api.get(interaction_url(pk)).status_code == 404


def test_interaction_of_another_agents_customer_is_404_under_owned_visibility(
    owned_visibility, agent_api, other_agent
):
    theirs = InteractionFactory(customer=CustomerFactory(owner=other_agent))
    assert agent_api.get(interaction_url(theirs.pk)).status_code == 404


def test_interaction_list_shows_only_own_customers_under_owned_visibility(
    owned_visibility, agent_api, agent, other_agent
):
    mine = InteractionFactory(customer=CustomerFactory(owner=agent))
    InteractionFactory(customer=CustomerFactory(owner=other_agent))
    assert ids(agent_api.get(INTERACTIONS)) == [mine.pk]


def test_interaction_filter_by_customer(agent_api, customer):
    mine = InteractionFactory(customer=customer)
    InteractionFactory()
    assert ids(agent_api.get(INTERACTIONS, {"customer": customer.pk})) == [mine.pk]


def test_interaction_filter_by_unknown_customer_is_400(agent_api):
    response = agent_api.get(INTERACTIONS, {"customer": 987654})
    assert response.status_code == 400
    assert "customer" in response.json()


def test_interaction_filter_by_another_agents_customer_is_400_under_owned_visibility(
    owned_visibility, agent_api, other_agent
):
    theirs = InteractionFactory(customer=CustomerFactory(owner=other_agent))
    response = agent_api.get(INTERACTIONS, {"customer": theirs.customer_id})
    assert response.status_code == 400
    assert "customer" in response.json()


def test_interaction_filter_by_channel(agent_api):
    call = InteractionFactory(channel="call")
    InteractionFactory(channel="email")
    assert ids(agent_api.get(INTERACTIONS, {"channel": "call"})) == [call.pk]


def test_interaction_filter_by_unknown_channel_is_400(agent_api):
    response = agent_api.get(INTERACTIONS, {"channel": "fax"})
    assert response.status_code == 400
    assert "channel" in response.json()


def test_interaction_filter_by_direction(agent_api):
    outbound = InteractionFactory(direction="outbound")
    InteractionFactory(direction="inbound")
    assert ids(agent_api.get(INTERACTIONS, {"direction": "outbound"})) == [outbound.pk]


def test_interaction_filter_by_stage_slug(agent_api):
    complaint = InteractionFactory(stage=JourneyStage.objects.get(slug="complaint"))
    InteractionFactory()
    assert ids(agent_api.get(INTERACTIONS, {"stage": "complaint"})) == [complaint.pk]


def test_interaction_filter_by_stage_id(agent_api):
    stage = JourneyStage.objects.get(slug="renewal")
    renewal = InteractionFactory(stage=stage)
    InteractionFactory()
    assert ids(agent_api.get(INTERACTIONS, {"stage": stage.pk})) == [renewal.pk]


@pytest.mark.parametrize("value", ["nirvana", "²", str(10**30)])
def test_interaction_filter_by_unknown_stage_is_empty(agent_api, value):
    InteractionFactory()
    response = agent_api.get(INTERACTIONS, {"stage": value})
    assert response.status_code == 200
    assert ids(response) == []


def test_interaction_filter_by_occurred_after(agent_api):
    now = timezone.now()
    new = InteractionFactory(occurred_at=now - timedelta(hours=1))
    InteractionFactory(occurred_at=now - timedelta(days=3))
    after = (now - timedelta(days=1)).isoformat()
    assert ids(agent_api.get(INTERACTIONS, {"occurred_after": after})) == [new.pk]


def test_interaction_filter_by_occurred_before(agent_api):
    now = timezone.now()
    InteractionFactory(occurred_at=now - timedelta(hours=1))
    old = InteractionFactory(occurred_at=now - timedelta(days=3))
    before = (now - timedelta(days=1)).isoformat()
    assert ids(agent_api.get(INTERACTIONS, {"occurred_before": before})) == [old.pk]


def test_interaction_filter_by_occurred_date_range(agent_api):
    now = timezone.now()
    InteractionFactory(occurred_at=now - timedelta(days=10))
    middle = InteractionFactory(occurred_at=now - timedelta(days=5))
    InteractionFactory(occurred_at=now)
    params = {
        "occurred_after": (now - timedelta(days=6)).date().isoformat(),
        "occurred_before": (now - timedelta(days=4)).isoformat(),
    }
    assert ids(agent_api.get(INTERACTIONS, params)) == [middle.pk]


@pytest.mark.parametrize(
    "value", ["last week", "2026-02-30", "99999-01-01", "0000-01-01T00:00:00Z", "2026\x00"]
)
def test_interaction_filter_with_invalid_date_is_400(agent_api, value):
    response = agent_api.get(INTERACTIONS, {"occurred_after": value})
    assert response.status_code == 400
    assert "occurred_after" in response.json()


def test_interaction_filter_by_sentiment_label(agent_api):
    negative = InteractionFactory(
        sentiment_label="negative", sentiment_score=-0.8, scored_at=timezone.now()
    )
    InteractionFactory(sentiment_label="positive", sentiment_score=0.7, scored_at=timezone.now())
    InteractionFactory()
    assert ids(agent_api.get(INTERACTIONS, {"sentiment_label": "negative"})) == [negative.pk]


def test_interaction_filter_by_unknown_sentiment_label_is_400(agent_api):
    response = agent_api.get(INTERACTIONS, {"sentiment_label": "ecstatic"})
    assert response.status_code == 400
    assert "sentiment_label" in response.json()


def test_interaction_cursor_pagination_visits_every_row_once(agent_api, customer):
    now = timezone.now()
    # Ties on occurred_at must not lose or repeat rows at a page boundary.
    for minutes in [0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 6, 6, 7, 8, 9]:
        InteractionFactory(customer=customer, occurred_at=now - timedelta(minutes=minutes))
    expected = list(
        Interaction.objects.order_by("-occurred_at", "-id").values_list("id", flat=True)
    )
    seen, url, pages = [], f"{INTERACTIONS}?page_size=4", 0
    while url:
        response = agent_api.get(url)
        assert response.status_code == 200
        assert "count" not in response.json()
        seen += ids(response)
        url, pages = response.json()["next"], pages + 1
    assert seen == expected
    assert pages == 5


def test_interaction_cursor_pagination_can_go_back(agent_api, customer):
    InteractionFactory.create_batch(6, customer=customer)
    first = agent_api.get(INTERACTIONS, {"page_size": 3})
    second = agent_api.get(first.json()["next"])
    back = agent_api.get(second.json()["previous"])
    assert ids(back) == ids(first)


def test_interaction_cursor_pagination_keeps_filters(agent_api, customer):
    InteractionFactory.create_batch(3, customer=customer, channel="call")
    InteractionFactory.create_batch(3, customer=customer, channel="email")
    first = agent_api.get(INTERACTIONS, {"page_size": 2, "channel": "call"})
    second = agent_api.get(first.json()["next"])
    assert len(ids(first) + ids(second)) == 3
    assert second.json()["next"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "cD0yMDI2",  # p=2026
        "cD0yMDI2LTAyLTMwIDEwOjAwOjAw",  # p=2026-02-30 10:00:00
        "cD0A",  # p=<NUL>
    ],
)
def test_interaction_invalid_cursor_is_404(agent_api, interaction, cursor):
    response = agent_api.get(f"{INTERACTIONS}?cursor={cursor}")
    assert response.status_code == 404


def test_interaction_cursor_with_a_huge_offset_is_capped(agent_api, interaction):
    cursor = "bz05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ=="  # o=99999999999999999999999
    response = agent_api.get(f"{INTERACTIONS}?cursor={cursor}")
    assert response.status_code == 200
    assert ids(response) == []


def test_interaction_list_query_count_does_not_grow_with_rows(session_api, agent, customer):
    InteractionFactory.create_batch(10, customer=customer, agent=agent)
    small = count_queries(session_api, f"{INTERACTIONS}?page_size=200")
    InteractionFactory.create_batch(190, customer=customer, agent=agent)
    large = count_queries(session_api, f"{INTERACTIONS}?page_size=200")
    assert small == large


def test_interaction_list_runs_a_fixed_number_of_queries(
    session_api, customer, django_assert_num_queries
):
    InteractionFactory.create_batch(30, customer=customer)
    # session, user, user permissions, group permissions, page (stages joined in)
    with django_assert_num_queries(5):
        assert session_api.get(INTERACTIONS).status_code == 200


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_interaction_cannot_be_changed_through_the_api(agent_api, interaction, method):
    response = getattr(agent_api, method)(interaction_url(interaction.pk), {}, format="json")
    assert response.status_code == 405


def test_interaction_put_is_405_for_a_manager_too(manager_api, interaction):
    response = manager_api.put(interaction_url(interaction.pk), {}, format="json")
    assert response.status_code == 405


# --- Journey stages --------------------------------------------------------------------------


def test_stage_list_in_journey_order(agent_api):
    response = agent_api.get(STAGES)
    assert response.status_code == 200
    slugs = [row["slug"] for row in response.json()["results"]]
    assert slugs == ["onboarding", "purchase", "delivery", "support", "complaint", "renewal"]


def test_stage_retrieve(agent_api):
    stage = JourneyStage.objects.get(slug="complaint")
    response = agent_api.get(f"{STAGES}{stage.pk}/")
    assert response.status_code == 200
    assert response.json()["is_critical"] is True


def test_stage_unknown_id_is_404(agent_api):
    assert agent_api.get(f"{STAGES}987654/").status_code == 404


@pytest.mark.parametrize(("method", "path"), [("post", ""), ("put", "1/"), ("delete", "1/")])
def test_stage_cannot_be_written_through_the_api(agent_api, method, path):
    response = getattr(agent_api, method)(f"{STAGES}{path}", {"name": "X"}, format="json")
    assert response.status_code == 405


# --- Methods, authentication, permissions ----------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_customer_list_route_rejects_unsupported_methods(agent_api, method):
    assert getattr(agent_api, method)(CUSTOMERS, {}, format="json").status_code == 405


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", CUSTOMERS),
        ("post", CUSTOMERS),
        ("get", "/api/v1/customers/1/"),
        ("patch", "/api/v1/customers/1/"),
        ("delete", "/api/v1/customers/1/"),
        ("get", INTERACTIONS),
        ("post", INTERACTIONS),
        ("get", "/api/v1/interactions/1/"),
        ("get", STAGES),
    ],
)
def test_anonymous_is_refused(api_client, customer, method, url):
    response = getattr(api_client, method)(url, {}, format="json")
    assert response.status_code in (401, 403)
    assert Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", CUSTOMERS), ("post", CUSTOMERS), ("get", INTERACTIONS), ("post", INTERACTIONS)],
)
def test_user_without_role_is_403(api_client, no_role_user, method, url):
    api_client.force_authenticate(no_role_user)
    response = getattr(api_client, method)(url, {"name": "Grace"}, format="json")
    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_user_without_role_is_403_on_a_customer(api_client, no_role_user, customer):
    api_client.force_authenticate(no_role_user)
    assert api_client.get(customer_url(customer.pk)).status_code == 403


def test_token_authentication(api_client, agent, customer):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(agent)}")
    response = api_client.get(CUSTOMERS)
    assert response.status_code == 200
    assert names(response) == ["Ada Lovelace"]


def test_token_authentication_can_write(api_client, agent, customer):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(agent)}")
    response = api_client.post(INTERACTIONS, interaction_body(customer), format="json")
    assert response.status_code == 201
    assert response.json()["agent"] == agent.pk


def test_unknown_token_is_refused(api_client, customer):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    # 401: TokenAuthentication comes first in settings and names a WWW-Authenticate scheme.
    response = api_client.get(CUSTOMERS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_session_authentication(session_api, customer):
    assert session_api.get(CUSTOMERS).status_code == 200


def test_session_authenticated_write_needs_the_csrf_token(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(CUSTOMERS, {"name": "Grace"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- Schema and docs -------------------------------------------------------------------------


def test_schema_endpoint_describes_the_api(agent_client):
    response = agent_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/customers/", "/api/v1/interactions/", "/api/v1/stages/"} <= set(
        schema["paths"]
    )
    parameters = {p["name"] for p in schema["paths"]["/api/v1/interactions/"]["get"]["parameters"]}
    assert {"cursor", "customer", "stage", "occurred_after", "occurred_before"} <= parameters


def test_docs_page_uses_only_local_assets(agent_client):
    response = agent_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    # Only our own origin: the sidecar's static files and the page's own init script.
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    assert "cdn" not in html.lower()


def test_duplicate_email_is_reported_on_the_email_field(agent_api, customer):
    response = agent_api.post(
        "/api/v1/customers/", {"name": "Copy", "email": "ADA@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["email"] == ["A customer with this email already exists."]


def test_anonymous_gets_401_with_a_token_challenge(api_client):
    response = api_client.get("/api/v1/customers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_an_interaction_not_scored_yet_matches_the_schema(agent_api, customer):
    # DRF drops allow_blank from read-only fields: the schema's enum had no "" for "pending".
    interaction = InteractionFactory(customer=customer)
    assert agent_api.get(interaction_url(interaction.pk)).json()["sentiment_label"] == ""
    schemas = agent_api.get("/api/schema/?format=json").json()["components"]["schemas"]
    label = schemas["Interaction"]["properties"]["sentiment_label"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in label["oneOf"]


def test_occurred_after_with_an_offset_postgresql_refuses_compares_in_utc(agent_api, customer):
    # +17:00 is past PostgreSQL's ±15:59: it was a 500 there; the filter moves it to UTC.
    at = timezone.now().replace(microsecond=0) - timedelta(days=1)
    InteractionFactory(customer=customer, occurred_at=at)
    just_before = (at - timedelta(minutes=1)).astimezone(timezone.get_fixed_timezone(17 * 60))
    just_after = (at + timedelta(minutes=1)).astimezone(timezone.get_fixed_timezone(17 * 60))
    found = agent_api.get(INTERACTIONS, {"occurred_after": just_before.isoformat()})
    assert found.status_code == 200 and len(found.json()["results"]) == 1
    none = agent_api.get(INTERACTIONS, {"occurred_after": just_after.isoformat()})
    assert none.status_code == 200 and none.json()["results"] == []

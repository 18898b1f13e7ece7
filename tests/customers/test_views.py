from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Interaction, JourneyStage
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def count_queries(client, url, **extra) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,args",
    [
        ("customer-list", []),
        ("customer-create", []),
        ("customer-detail", [1]),
        ("customer-edit", [1]),
    ],
)
def test_anonymous_is_sent_to_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_cannot_log_interaction(client, customer):
    response = client.post(reverse("interaction-create", args=[customer.pk]), {})
    assert response.status_code == 302
    assert not Interaction.objects.exists()


def test_user_without_role_is_forbidden(client, no_role_user, customer):
    client.force_login(no_role_user)
    assert client.get(reverse("customer-list")).status_code == 403
    assert client.get(reverse("customer-detail", args=[customer.pk])).status_code == 403


def test_unknown_customer_is_404(agent_client):
    assert agent_client.get(reverse("customer-detail", args=[999999])).status_code == 404
    assert agent_client.get(reverse("customer-edit", args=[999999])).status_code == 404


@pytest.mark.usefixtures("owned_visibility")
def test_agent_gets_404_for_another_agents_customer(agent_client):
    other = CustomerFactory(owner=UserFactory(role="Agent"))
    assert agent_client.get(reverse("customer-detail", args=[other.pk])).status_code == 404
    assert agent_client.get(reverse("customer-edit", args=[other.pk])).status_code == 404
    response = agent_client.post(
        reverse("interaction-create", args=[other.pk]), {"channel": "call", "subject": "Hi"}
    )
    assert response.status_code == 404


@pytest.mark.usefixtures("owned_visibility")
def test_owned_visibility_lists_only_own_customers(agent_client, agent):
    CustomerFactory(name="Mine", owner=agent)
    CustomerFactory(name="Theirs", owner=UserFactory(role="Agent"))
    response = agent_client.get(reverse("customer-list"))
    assert b"Mine" in response.content
    assert b"Theirs" not in response.content


@pytest.mark.usefixtures("owned_visibility")
def test_manager_sees_every_customer_under_owned_visibility(manager_client):
    other = CustomerFactory(owner=UserFactory(role="Agent"))
    assert manager_client.get(reverse("customer-detail", args=[other.pk])).status_code == 200


@pytest.mark.parametrize(
    "method,name",
    [
        ("post", "customer-list"),
        ("post", "customer-detail"),
        ("get", "interaction-create"),
        ("delete", "customer-edit"),
    ],
)
def test_wrong_method_is_405(agent_client, customer, method, name):
    args = [] if name == "customer-list" else [customer.pk]
    response = getattr(agent_client, method)(reverse(name, args=args))
    assert response.status_code == 405


# --- customer list and search ---------------------------------------------------------------


def test_customer_list_shows_customers(agent_client, customer):
    response = agent_client.get(reverse("customer-list"))
    assert response.status_code == 200
    assert b"Ada Lovelace" in response.content
    assert b"<html" in response.content


@pytest.mark.parametrize("term", ["lovelace", "ADA@EXAMPLE", "analyt"])
def test_search_matches_name_email_and_company(agent_client, customer, term):
    CustomerFactory(name="Someone Else", email="else@other.example", company="Other")
    response = agent_client.get(reverse("customer-list"), {"q": term})
    assert b"Ada Lovelace" in response.content
    assert b"Someone Else" not in response.content


def test_htmx_search_returns_only_the_list_fragment(agent_client, customer):
    response = agent_client.get(reverse("customer-list"), {"q": "ada"}, **HTMX)
    assert b'id="customer-list"' in response.content
    assert b"<html" not in response.content
    assert b"Ada Lovelace" in response.content


def test_search_with_no_match_says_so(agent_client, customer):
    response = agent_client.get(reverse("customer-list"), {"q": "zzzz"})
    assert "No customer matches “zzzz”".encode() in response.content


def test_customer_list_pages_through_everyone_once(agent_client, settings):
    settings.CUSTOMER_PAGE_SIZE = 3
    CustomerFactory.create_batch(8)
    seen, cursor = [], None
    for _ in range(5):
        params = {"cursor": cursor} if cursor else {}
        page = agent_client.get(reverse("customer-list"), params).context["page"]
        seen += [c.pk for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(Customer.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 8


def test_tampered_cursor_shows_the_first_page(agent_client, customer):
    response = agent_client.get(reverse("customer-list"), {"cursor": "not-a-real-cursor"})
    assert response.status_code == 200
    assert b"Ada Lovelace" in response.content


def test_customer_list_query_count_does_not_grow_with_rows(agent_client, agent):
    CustomerFactory.create_batch(10, owner=agent)
    small = count_queries(agent_client, reverse("customer-list"))
    CustomerFactory.create_batch(490, owner=agent)
    large = count_queries(agent_client, reverse("customer-list"))
    assert small == large


# --- create / edit --------------------------------------------------------------------------


def test_agent_creates_a_customer(agent_client):
    response = agent_client.post(
        reverse("customer-create"),
        {"name": "Grace Hopper", "email": "grace@example.com", "timezone": "America/New_York"},
    )
    customer = Customer.objects.get(email="grace@example.com")
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()


def test_htmx_create_redirects_the_client(agent_client):
    response = agent_client.post(reverse("customer-create"), {"name": "Grace"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == Customer.objects.get().get_absolute_url()


def test_invalid_customer_shows_errors_inline_and_keeps_input(agent_client, customer):
    response = agent_client.post(
        reverse("customer-create"),
        {"name": "", "email": "ADA@example.com", "timezone": "Mars/Olympus", "company": "Kept Co"},
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required." in body
    assert "A customer with this email already exists." in body
    assert "is not a known time zone" in body
    assert 'value="Kept Co"' in body
    assert Customer.objects.count() == 1


def test_agent_edits_a_customer(agent_client, customer):
    response = agent_client.post(
        reverse("customer-edit", args=[customer.pk]),
        {"name": "Ada King", "email": "ada@example.com", "company": "Analytical"},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Ada King"


def test_search_text_follows_edits(agent_client, customer):
    agent_client.post(
        reverse("customer-edit", args=[customer.pk]), {"name": "Ada King", "email": "a@b.example"}
    )
    assert list(Customer.objects.search("king")) == [customer]
    assert not Customer.objects.search("lovelace").exists()


# --- customer page and timeline -------------------------------------------------------------


def test_timeline_is_newest_first(agent_client, customer):
    now = timezone.now()
    InteractionFactory(customer=customer, subject="Older one", occurred_at=now - timedelta(days=2))
    InteractionFactory(customer=customer, subject="Newer one", occurred_at=now - timedelta(days=1))
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert body.index("Newer one") < body.index("Older one")


def test_timeline_cursor_walks_every_interaction_once(agent_client, customer, settings):
    settings.TIMELINE_PAGE_SIZE = 4
    same_time = timezone.now() - timedelta(hours=1)
    InteractionFactory.create_batch(5, customer=customer, occurred_at=same_time)  # ties
    InteractionFactory.create_batch(6, customer=customer)
    seen, cursor = [], None
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = agent_client.get(customer.get_absolute_url(), params, **HTMX)
        page = response.context["page"]
        seen += [i.pk for i in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    expected = list(
        customer.interactions.order_by("-occurred_at", "-id").values_list("pk", flat=True)
    )
    assert seen == expected


def test_next_timeline_page_is_a_fragment(agent_client, customer, settings):
    settings.TIMELINE_PAGE_SIZE = 2
    InteractionFactory.create_batch(3, customer=customer)
    first = agent_client.get(customer.get_absolute_url())
    cursor = first.context["page"].next_cursor
    assert f'hx-get="{customer.get_absolute_url()}?cursor=' in first.content.decode()
    response = agent_client.get(customer.get_absolute_url(), {"cursor": cursor}, **HTMX)
    assert b"<html" not in response.content
    assert b'class="interaction"' in response.content


def test_timeline_query_count_does_not_grow_with_rows(agent_client, customer):
    other_stage = JourneyStage.objects.get(slug="complaint")
    InteractionFactory.create_batch(10, customer=customer)
    # Warm the cache first: the memory model's parameters in use are read once, then cached.
    agent_client.get(customer.get_absolute_url())
    small = count_queries(agent_client, customer.get_absolute_url())
    InteractionFactory.create_batch(490, customer=customer, stage=other_stage)
    large = count_queries(agent_client, customer.get_absolute_url())
    assert small == large


def test_user_text_is_escaped(agent_client):
    evil = CustomerFactory(name='<script>alert("x")</script>')
    InteractionFactory(
        customer=evil, subject="<img src=x onerror=alert(1)>", body='<b hx-get="/x">'
    )
    body = agent_client.get(evil.get_absolute_url()).content.decode()
    assert '<script>alert("x")</script>' not in body
    assert "<img src=x" not in body
    assert '<b hx-get="/x">' not in body
    assert "&lt;script&gt;" in body


# --- logging an interaction -----------------------------------------------------------------


def _interaction_data(**overrides):
    data = {
        "channel": "call",
        "direction": "inbound",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "stage": JourneyStage.objects.get(slug="complaint").pk,
        "subject": "Angry about the late delivery",
        "body": "Customer called twice.",
    }
    data.update(overrides)
    return data


def test_htmx_log_interaction_returns_the_new_item_for_the_timeline(agent_client, customer, agent):
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]), _interaction_data(), **HTMX
    )
    assert response.status_code == 200
    interaction = Interaction.objects.get()
    assert interaction.agent == agent
    assert interaction.sentiment_label == "" and interaction.scored_at is None  # pending
    body = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#timeline"' in body
    assert f'id="interaction-{interaction.pk}"' in body
    assert 'id="interaction-form"' in body
    assert 'value="Angry about the late delivery"' not in body  # the form is fresh again
    assert "timeline-empty" in body  # the "no interactions yet" line goes away


def test_log_interaction_announces_it_after_commit(
    agent_client, customer, django_capture_on_commit_callbacks
):
    from customers.signals import interactions_logged

    received = []

    def receiver(sender, interaction_ids, **kwargs):
        received.extend(interaction_ids)

    interactions_logged.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            agent_client.post(
                reverse("interaction-create", args=[customer.pk]), _interaction_data()
            )
    finally:
        interactions_logged.disconnect(receiver)
    assert received == [Interaction.objects.get().pk]


def test_invalid_interaction_keeps_input_and_shows_errors(agent_client, customer):
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]),
        _interaction_data(subject="", body="", channel="pigeon", occurred_at="2999-01-01T00:00"),
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice." in body
    assert "hx-swap-oob" not in body
    assert not Interaction.objects.exists()


def test_interaction_without_text_is_refused(agent_client, customer):
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]),
        _interaction_data(subject=" ", body=""),
        **HTMX,
    )
    assert "Write a subject or a body" in response.content.decode()
    assert not Interaction.objects.exists()


def test_future_interaction_is_refused(agent_client, customer):
    future = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]), _interaction_data(occurred_at=future)
    )
    assert response.status_code == 200
    assert "more than a day in the future" in response.content.decode()


def test_log_interaction_without_htmx_redirects_to_the_customer(agent_client, customer):
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]), _interaction_data()
    )
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    assert Interaction.objects.count() == 1


def test_login_page_and_logout(client, agent):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "agent", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert client.get(reverse("customer-list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("customer-list")).status_code == 302

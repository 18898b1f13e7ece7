"""Chats and calls in: POST /api/v1/conversations/ (customers.channels.conversations)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Conversation, Interaction
from tests.factories import CustomerFactory, UserFactory, api_token

URL = "/api/v1/conversations/"


def payload(customer, **changes) -> dict:
    end = timezone.now()
    body = {
        "customer": customer.pk,
        "channel": "chat",
        "external_id": "chat-42",
        "started_at": (end - timedelta(minutes=12)).isoformat(),
        "ended_at": end.isoformat(),
        "turns": [
            {"speaker": "customer", "text": "My order never arrived."},
            {"speaker": "agent", "text": "I am so sorry, let me check. AGENTWORDS"},
            {"speaker": "customer", "text": "Thank you, that fixed it."},
        ],
        "metadata": {"queue": "billing", "widget": "web"},
    }
    return {**body, **changes}


@pytest.fixture
def token_api(agent) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(agent)}")
    return client


def test_a_chat_is_stored_as_one_interaction_with_its_turns(token_api, customer, agent):
    response = token_api.post(URL, payload(customer), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    interaction = Interaction.objects.get(pk=data["id"])
    assert interaction.channel == "chat"
    assert interaction.direction == "inbound"
    assert interaction.external_ref == "chat-42"
    assert interaction.agent == agent
    assert interaction.sentiment_label == ""  # pending until a worker scores it
    assert [t["speaker"] for t in data["turns"]] == ["customer", "agent", "customer"]
    assert data["metadata"] == {"queue": "billing", "widget": "web"}
    assert data["opening_score"] is None and data["ending_score"] is None
    assert Conversation.objects.get(pk=interaction.pk).turns == data["turns"]


def test_the_scored_text_is_the_customers_turns_only(token_api, customer):
    response = token_api.post(URL, payload(customer), format="json")

    interaction = Interaction.objects.get(pk=response.json()["id"])
    assert interaction.text == "My order never arrived.\nThank you, that fixed it."
    assert "AGENTWORDS" not in interaction.text


def test_a_call_is_accepted(token_api, customer):
    response = token_api.post(URL, payload(customer, channel="call"), format="json")
    assert response.status_code == 201
    assert Interaction.objects.get(pk=response.json()["id"]).channel == "call"


def test_a_redelivery_returns_the_same_interaction(
    token_api, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as first_callbacks:
        first = token_api.post(URL, payload(customer), format="json")
    with django_capture_on_commit_callbacks(execute=False) as again_callbacks:
        again = token_api.post(URL, payload(customer), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Interaction.objects.filter(customer=customer).count() == 1
    assert first_callbacks and not again_callbacks  # queued for scoring once


def test_the_same_external_id_for_another_customer_is_another_conversation(token_api, customer):
    other = CustomerFactory()
    first = token_api.post(URL, payload(customer), format="json")
    second = token_api.post(URL, payload(other), format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_an_external_id_taken_by_a_plain_interaction_is_a_400(token_api, customer):
    Interaction.objects.create(customer=customer, channel="email", body="hi", external_ref="x-1")
    response = token_api.post(URL, payload(customer, external_id="x-1"), format="json")
    assert response.status_code == 400
    assert "not a conversation" in response.json()["external_id"][0]


def test_a_conversation_can_be_read_back(token_api, customer):
    created = token_api.post(URL, payload(customer), format="json").json()
    response = token_api.get(f"{URL}{created['id']}/")
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"channel": "email"}, "channel", "not a valid choice"),
        ({"turns": []}, "turns", "empty"),
        ({"turns": [{"speaker": "bot", "text": "hi"}]}, "turns", "not a valid choice"),
        ({"turns": [{"speaker": "customer", "text": ""}]}, "turns", "blank"),
        ({"turns": [{"speaker": "agent", "text": "Hello?"}]}, "turns", "No customer turn"),
        ({"turns": "hello"}, "turns", "list"),
        ({"metadata": ["a"]}, "metadata", "JSON object"),
        ({"external_id": ""}, "external_id", "blank"),
        ({"external_id": "x" * 101}, "external_id", "100 characters"),
        ({"started_at": "yesterday"}, "started_at", "wrong format"),
    ],
)
def test_bad_input_is_a_400_with_field_messages(token_api, customer, changes, field, words):
    response = token_api.post(URL, payload(customer, **changes), format="json")
    assert response.status_code == 400, response.content
    assert words.lower() in str(response.json()[field]).lower()
    assert not Interaction.objects.exists()


def test_a_conversation_cannot_end_before_it_starts(token_api, customer):
    now = timezone.now()
    body = payload(
        customer,
        started_at=now.isoformat(),
        ended_at=(now - timedelta(minutes=1)).isoformat(),
    )
    response = token_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert "cannot end before it starts" in response.json()["ended_at"][0]


def test_too_many_turns_is_a_400(token_api, customer, settings):
    settings.CONVERSATION_MAX_TURNS = 3
    turns = [{"speaker": "customer", "text": f"turn {n}"} for n in range(4)]
    response = token_api.post(URL, payload(customer, turns=turns), format="json")
    assert response.status_code == 400
    assert "At most 3 turns" in response.json()["turns"][0]
    assert not Interaction.objects.exists()


def test_too_many_characters_is_a_400(token_api, customer, settings):
    settings.CONVERSATION_MAX_CHARS = 100
    turns = [{"speaker": "customer", "text": "a" * 60}, {"speaker": "agent", "text": "b" * 60}]
    response = token_api.post(URL, payload(customer, turns=turns), format="json")
    assert response.status_code == 400
    assert "limited to 100 characters in all (these have 120)" in response.json()["turns"][0]


def test_too_much_metadata_is_a_400(token_api, customer, settings):
    settings.CONVERSATION_METADATA_MAX_BYTES = 50
    response = token_api.post(URL, payload(customer, metadata={"x": "y" * 60}), format="json")
    assert response.status_code == 400
    assert "limited to 50 bytes" in response.json()["metadata"][0]


def test_anonymous_is_401_and_no_role_is_403(api_client, customer, no_role_user):
    assert api_client.post(URL, payload(customer), format="json").status_code == 401
    api_client.force_authenticate(no_role_user)
    assert api_client.post(URL, payload(customer), format="json").status_code == 403
    assert not Interaction.objects.exists()


def test_another_agents_customer_is_refused_like_a_missing_one(owned_visibility, agent_api):
    theirs = CustomerFactory(owner=UserFactory(role="Agent"))
    response = agent_api.post(URL, payload(theirs), format="json")
    missing = agent_api.post(URL, {**payload(theirs), "customer": 99_999_999}, format="json")
    assert response.status_code == missing.status_code == 400
    assert response.json()["customer"][0].replace(str(theirs.pk), "N") == missing.json()[
        "customer"
    ][0].replace("99999999", "N")


def test_get_on_the_list_is_405(agent_api):
    assert agent_api.get(URL).status_code == 405


def test_the_timeline_shows_the_turns_collapsed_and_escaped(token_api, agent_client, customer):
    turns = [
        {"speaker": "customer", "text": "<script>alert(1)</script> where is it?"},
        {"speaker": "agent", "text": "On its way."},
    ]
    token_api.post(URL, payload(customer, turns=turns), format="json")

    page = agent_client.get(reverse("customer-detail", args=[customer.pk])).content.decode()

    assert '<details class="conversation"' in page
    assert "2 turns" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; where is it?" in page
    assert "<script>alert(1)</script>" not in page
    assert "<strong>Agent:</strong> On its way." in page


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_racing_store_one_conversation():
    """Two workers of the chat provider deliver the same conversation at the same moment:
    one stores it, the other gets the same interaction back (real PostgreSQL, two
    connections)."""
    import threading

    from django.db import connection, connections

    from customers.channels.conversations import receive_conversation

    if connection.vendor != "postgresql":
        pytest.skip("needs two real connections")
    customer = CustomerFactory()
    body = payload(customer)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def deliver() -> None:
        try:
            barrier.wait()
            received = receive_conversation(
                customer=customer,
                channel="chat",
                external_id=body["external_id"],
                started_at=timezone.now() - timedelta(minutes=5),
                ended_at=timezone.now(),
                turns=body["turns"],
            )
            results.append((received.interaction.pk, received.created))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert Interaction.objects.filter(customer=customer).count() == 1
    assert Conversation.objects.count() == 1


def test_admin_shows_the_transcript_and_the_sent_emails(client, admin_user, token_api, customer):
    from customers.models import OutboundEmail

    created = token_api.post(URL, payload(customer), format="json").json()
    email = OutboundEmail.objects.create(
        message_id="<m1@crm.example>", customer=customer, to="a@example.com", subject="Thanks"
    )
    client.force_login(admin_user)

    page = client.get(reverse("admin:customers_interaction_change", args=[created["id"]]))
    assert page.status_code == 200
    assert "AGENTWORDS" in page.content.decode()
    emails = client.get(reverse("admin:customers_outboundemail_change", args=[email.pk]))
    assert emails.status_code == 200
    assert "&lt;m1@crm.example&gt;" in emails.content.decode()

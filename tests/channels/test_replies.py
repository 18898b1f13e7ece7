"""A customer's reply is linked to the email MemoryCRM sent that it answers (In-Reply-To, else
References), only when that email was sent to the same customer, and the customer page says
what it answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customers.channels.inbound import ingest_email, ingest_emails
from customers.models import Customer, InboundEmail, Interaction, OutboundEmail
from tests.channels.mail import make_email
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SOURCE = "test"


def sent(customer: Customer, message_id: str, **fields) -> OutboundEmail:
    return OutboundEmail.objects.create(
        message_id=message_id, customer=customer, to=customer.email, **fields
    )


def reply(customer: Customer, **headers) -> bytes:
    return make_email(
        sender=f"{customer.name} <{customer.email}>",
        subject="Re: Thank you for your order!",
        text="Thanks, but the parcel still has not arrived.",
        headers=headers,
    )


def test_a_reply_naming_our_message_id_is_linked(customer):
    email = sent(customer, "<t1@crm.example>", kind=OutboundEmail.Kind.INTERVENTION)
    result = ingest_email(reply(customer, **{"In-Reply-To": "<t1@crm.example>"}), source=SOURCE)
    row = InboundEmail.objects.get(pk=result.inbound_email_id)
    assert row.answers == email and row.interaction.customer == customer
    assert list(email.replies.all()) == [row]


def test_a_reply_with_only_references_is_linked(customer):
    email = sent(customer, "<t2@crm.example>", kind=OutboundEmail.Kind.SURVEY_INVITATION)
    raw = reply(customer, References="<elsewhere@mail.example> <t2@crm.example>")
    result = ingest_email(raw, source=SOURCE)
    assert InboundEmail.objects.get(pk=result.inbound_email_id).answers == email


def test_a_reply_to_something_we_did_not_send_is_not_linked(customer):
    sent(customer, "<t3@crm.example>")
    raw = reply(customer, **{"In-Reply-To": "<other@mail.example>", "References": "<x@y.z>"})
    result = ingest_email(raw, source=SOURCE)
    row = InboundEmail.objects.get(pk=result.inbound_email_id)
    assert row.answers is None and row.interaction is not None


def test_a_reply_naming_an_email_sent_to_another_customer_is_not_linked_across(customer):
    """The attacker case: someone quotes the Message-ID of an email sent to Ada. Their email is
    stored on their own customer, and nothing of Ada's email is linked to it or shown."""
    victim_email = sent(customer, "<secret@crm.example>", subject="Your refund of 900 EUR")
    attacker = CustomerFactory(name="Mallory", email="mallory@example.net")
    raw = reply(attacker, **{"In-Reply-To": "<secret@crm.example>"})
    result = ingest_email(raw, source=SOURCE)
    row = InboundEmail.objects.get(pk=result.inbound_email_id)
    assert row.customer == attacker and row.interaction.customer == attacker
    assert row.answers is None
    assert not victim_email.replies.exists()
    assert not Interaction.objects.filter(customer=customer).exists()


def test_replies_in_one_batch_are_each_linked_to_their_own_email(customer):
    """A poller's batch links its replies in one lookup: each to the email it answers, and
    none across customers."""
    grace = CustomerFactory(name="Grace", email="grace@example.com")
    to_ada = sent(customer, "<b1@crm.example>")
    to_grace = sent(grace, "<b2@crm.example>")
    batch = [
        reply(customer, **{"In-Reply-To": "<b1@crm.example>"}),
        reply(grace, References="<b1@crm.example> <b2@crm.example>"),
        reply(grace, **{"In-Reply-To": "<b1@crm.example>"}),  # names Ada's email
        reply(customer, **{"In-Reply-To": "<unknown@crm.example>"}),
    ]
    results = ingest_emails([(raw, None) for raw in batch], source=SOURCE)
    rows = [InboundEmail.objects.get(pk=result.inbound_email_id) for result in results]
    assert [row.answers for row in rows] == [to_ada, to_grace, None, None]
    assert all(row.interaction is not None for row in rows)


def test_the_customer_page_says_what_a_reply_answers_escaped(agent_client, customer):
    sent(
        customer,
        "<t4@crm.example>",
        kind=OutboundEmail.Kind.INTERVENTION,
        subject="Sorry <b>& thanks</b>",
        sent_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
    )
    ingest_email(reply(customer, **{"In-Reply-To": "<t4@crm.example>"}), source=SOURCE)
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    expected = "Reply to: <q>Sorry &lt;b&gt;&amp; thanks&lt;/b&gt;</q> (intervention email) sent"
    assert expected in page
    assert "t4@crm.example" not in page  # nothing internal


def test_an_unlinked_reply_says_nothing(agent_client, customer):
    ingest_email(reply(customer, **{"In-Reply-To": "<nope@crm.example>"}), source=SOURCE)
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "Reply to:" not in page and "Thanks, but the parcel" in page


def test_the_gdpr_export_says_which_of_our_emails_a_reply_answers(customer):
    from customers import privacy

    sent(customer, "<t5@crm.example>")
    ingest_email(reply(customer, **{"In-Reply-To": "<t5@crm.example>"}), source=SOURCE)
    document = privacy.export_customer(customer=customer)
    [inbound] = document["inbound_emails"]
    assert inbound["answers"] == "<t5@crm.example>"
    assert [e["message_id"] for e in document["email_threads"]] == ["<t5@crm.example>"]

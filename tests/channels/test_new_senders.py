"""A batch of emails (a poller's) from new senders: each becomes one customer, in one insert,
whoever else is adding them; a sender who cannot be a customer is refused alone."""

from __future__ import annotations

import pytest

from customers.channels.inbound import ingest_email, ingest_emails
from customers.models import Customer, InboundEmail, Interaction
from tests.channels.mail import make_email
from tests.channels.racing import second_waits_for_first

pytestmark = pytest.mark.django_db
Kind = InboundEmail.Kind
SOURCE = "test"


def test_new_senders_of_one_batch_become_one_customer_each():
    batch = [
        make_email(sender="Grace Hopper <grace@navy.example>", text="First."),
        make_email(sender="GRACE@navy.example", text="Second."),
        make_email(sender="Alan <alan@example.com>", text="Third."),
    ]
    results = ingest_emails([(raw, None) for raw in batch], source=SOURCE)
    grace, alan = Customer.objects.get(name="Grace Hopper"), Customer.objects.get(name="Alan")
    assert Customer.objects.count() == 2 and grace.email == "grace@navy.example"
    owners = [Interaction.objects.get(pk=r.interaction_id).customer for r in results]
    assert owners == [grace, grace, alan]


def test_a_sender_who_cannot_be_a_customer_is_refused_and_the_batch_goes_on():
    # A valid address, too long for a customer's email field (254 characters).
    long_address = "x" * 60 + "@" + ".".join(["d" * 60] * 4) + ".example"
    batch = [
        make_email(sender=f"Too Long <{long_address}>"),
        make_email(sender="Alan <alan@example.com>"),
    ]
    refused, stored = ingest_emails([(raw, None) for raw in batch], source=SOURCE)
    assert refused.kind == Kind.REFUSED and refused.interaction_id is None
    assert refused.reason.startswith("cannot add the sender:") and "254" in refused.reason
    assert stored.kind == Kind.CUSTOMER and stored.interaction_id is not None
    assert list(Customer.objects.values_list("email", flat=True)) == ["alan@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_sender_being_added_elsewhere_waits_and_becomes_one_customer():
    """Two deliveries of different emails from the same new sender: the second waits for the
    first's uncommitted customer, then stores its email on that customer."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite locks the whole file)")
    one = make_email(sender="Grace <grace@navy.example>", text="One.")
    two = make_email(sender="GRACE <Grace@Navy.example>", text="Two.")
    outcome = second_waits_for_first(
        lambda: ingest_email(one, source="first"), lambda: ingest_email(two, source="second")
    )
    grace = Customer.objects.get()
    assert grace.email == "grace@navy.example"
    interactions = [Interaction.objects.get(pk=outcome[k].interaction_id) for k in outcome]
    assert {i.customer for i in interactions} == {grace} and len(interactions) == 2

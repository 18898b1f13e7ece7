"""Threading of outbound email (customers.channels.threading): each email to a customer has its
own Message-ID and the support Reply-To, is recorded, and a reply's headers find it again."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage

from customers.channels.threading import find_outbound, message_ids, send_threaded
from customers.models import Customer, OutboundEmail
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def sent(customer: Customer, message_id: str, **fields) -> OutboundEmail:
    return OutboundEmail.objects.create(
        message_id=message_id, customer=customer, to=customer.email, **fields
    )


# --- find_outbound ------------------------------------------------------------------------


def test_in_reply_to_finds_the_email_it_answers(customer):
    email = sent(customer, "<a1@crm.example>")
    sent(customer, "<a2@crm.example>")
    assert find_outbound("<a1@crm.example>", []) == email


def test_a_bare_id_without_brackets_is_found_too(customer):
    email = sent(customer, "<a1@crm.example>")
    assert find_outbound("  a1@crm.example ", []) == email


def test_references_find_the_latest_of_ours_when_in_reply_to_is_not_ours(customer):
    """A reply to the customer's own follow-up (or a client that drops In-Reply-To): the
    References chain, newest last, still leads to what we sent."""
    first = sent(customer, "<first@crm.example>")
    second = sent(customer, "<second@crm.example>")
    references = ["<first@crm.example>", "<second@crm.example> <theirs@mail.example>"]
    assert find_outbound("<theirs@mail.example>", references) == second
    assert find_outbound("", ["<first@crm.example>"]) == first


def test_in_reply_to_wins_over_references(customer):
    first = sent(customer, "<first@crm.example>")
    sent(customer, "<second@crm.example>")
    assert find_outbound("<first@crm.example>", ["<second@crm.example>"]) == first


@pytest.mark.parametrize(
    ("in_reply_to", "references"),
    [
        ("", []),
        ("<unknown@crm.example>", ["<other@mail.example>"]),
        ("not an id at all", []),
        ("<" + "x" * 300 + "@crm.example>", []),
        (None, None),
    ],
)
def test_nothing_of_ours_is_none(customer, in_reply_to, references):
    sent(customer, "<a1@crm.example>")
    assert find_outbound(in_reply_to, references) is None


def test_message_ids_reads_folded_headers():
    assert message_ids("<a@x>\r\n <b@y>\t<c@z>") == ["<a@x>", "<b@y>", "<c@z>"]


# --- send_threaded ------------------------------------------------------------------------


def test_a_threaded_email_goes_out_with_its_message_id_and_reply_to(smtp_sink, settings):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "crm.example"
    settings.SUPPORT_REPLY_TO = "Support <support@crm.example>"
    customer = CustomerFactory(email="ada@example.com")
    interaction = InteractionFactory(customer=customer)
    message = EmailMessage("Thanks", "Body", "crm@crm.example", ["ada@example.com"])

    record = send_threaded(
        message, customer=customer, kind="other", about=interaction, interaction=interaction
    )

    [(received, recipients)] = smtp_sink.messages
    assert recipients == ["ada@example.com"]
    assert received["Message-ID"] == record.message_id
    assert record.message_id.startswith("<") and record.message_id.endswith("@crm.example>")
    assert received["Reply-To"] == "Support <support@crm.example>"
    record.refresh_from_db()
    assert (record.customer, record.interaction, record.to) == (
        customer,
        interaction,
        "ada@example.com",
    )
    assert record.about == interaction
    assert record.about_type == ContentType.objects.get_for_model(interaction)
    assert find_outbound(received["Message-ID"], []) == record


def test_without_a_support_address_there_is_no_reply_to(smtp_sink, settings):
    settings.SUPPORT_REPLY_TO = ""
    customer = CustomerFactory(email="ada@example.com")
    send_threaded(
        EmailMessage("Hi", "Body", "crm@crm.example", [customer.email]),
        customer=customer,
        kind="other",
    )
    [(received, _)] = smtp_sink.messages
    assert received["Reply-To"] is None
    assert received["Message-ID"]


def test_an_email_that_fails_to_send_is_not_recorded(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    customer = CustomerFactory(email="ada@example.com")
    with pytest.raises(OSError):
        send_threaded(
            EmailMessage("Hi", "Body", "crm@crm.example", [customer.email]),
            customer=customer,
            kind="other",
        )
    assert not OutboundEmail.objects.exists()


def test_each_email_has_its_own_message_id(smtp_sink):
    customer = CustomerFactory(email="ada@example.com")
    for _ in range(3):
        send_threaded(
            EmailMessage("Hi", "Body", "crm@crm.example", [customer.email]),
            customer=customer,
            kind="other",
        )
    ids = {m["Message-ID"] for m, _ in smtp_sink.messages}
    assert len(ids) == 3
    assert set(OutboundEmail.objects.values_list("message_id", flat=True)) == ids

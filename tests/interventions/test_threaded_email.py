"""Intervention emails to the customer are threaded (customers.channels.threading): a real SMTP
server (aiosmtpd) receives them with their own Message-ID and the support Reply-To, and each is
recorded so that the customer's reply links back to the intervention. Emails to staff are not."""

from __future__ import annotations

import pytest

from customers.channels.threading import find_outbound
from customers.models import OutboundEmail
from interventions import conditions as cond
from interventions import engine
from interventions.models import EmailTemplate, Intervention, Rule
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db


def email_rule(to: str = "customer") -> Rule:
    EmailTemplate.objects.get_or_create(
        name="thanks", defaults={"subject": "Thank you, {{ customer.name }}", "body": "Thanks!"}
    )
    rule = Rule(
        name=f"Thank-you to {to}",
        slug=f"thank-you-{to}",
        event=cond.INTERACTION_LOGGED,
        conditions=[{"field": "channel", "op": "eq", "value": "chat"}],
        action=Rule.Action.EMAIL,
        action_config={"template": "thanks", "to": to},
        active=True,
    )
    rule.full_clean()
    rule.save()
    return rule


def fire(interaction) -> Intervention:
    [intervention] = engine.fire_event(event=cond.INTERACTION_LOGGED, subject=interaction)
    engine.execute(intervention.pk)
    intervention.refresh_from_db()
    return intervention


@pytest.fixture
def chat(owner):
    customer = CustomerFactory(name="Ada", email="Ada@Example.com", owner=owner)
    return InteractionFactory(customer=customer, channel="chat", subject="Hello")


def test_the_thank_you_email_carries_its_message_id_and_reply_to(smtp_sink, settings, chat):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "crm.example"
    settings.SUPPORT_REPLY_TO = "support@crm.example"
    email_rule()

    intervention = fire(chat)

    assert intervention.status == Intervention.Status.DONE
    [(message, recipients)] = smtp_sink.messages
    assert recipients == ["Ada@Example.com"]
    assert message["Subject"] == "Thank you, Ada"
    assert message["Reply-To"] == "support@crm.example"
    assert message["Message-ID"].endswith("@crm.example>")
    record = OutboundEmail.objects.get()
    assert record.message_id == message["Message-ID"]
    assert record.kind == OutboundEmail.Kind.INTERVENTION
    assert (record.customer, record.interaction, record.about) == (
        chat.customer,
        chat,
        intervention,
    )
    # The customer's reply names it: the email ingest finds what it answers.
    assert find_outbound(message["Message-ID"], []).about == intervention


def test_a_retried_intervention_sends_and_records_nothing_twice(smtp_sink, chat):
    email_rule()
    intervention = fire(chat)
    engine.execute(intervention.pk)
    assert len(smtp_sink.messages) == 1
    assert OutboundEmail.objects.count() == 1


def test_an_email_to_the_owner_is_not_threaded_as_the_customers(smtp_sink, settings, chat):
    """Staff replying to an email about a customer is not the customer speaking."""
    settings.SUPPORT_REPLY_TO = "support@crm.example"
    chat.customer.owner.email = "owner@crm.example"
    chat.customer.owner.save()
    email_rule(to="owner")

    fire(chat)

    [(message, recipients)] = smtp_sink.messages
    assert recipients == ["owner@crm.example"]
    assert message["Reply-To"] is None
    assert not OutboundEmail.objects.exists()


def test_alert_emails_to_managers_are_not_threaded(smtp_sink, settings, chat):
    settings.SUPPORT_REPLY_TO = "support@crm.example"
    UserFactory(username="boss", role="Manager", email="boss@crm.example")
    rule = Rule(
        name="Alert",
        slug="alert-chat",
        event=cond.INTERACTION_LOGGED,
        conditions=[{"field": "channel", "op": "eq", "value": "chat"}],
        action=Rule.Action.ALERT,
        action_config={"recipients": ["managers"], "email": True},
        active=True,
    )
    rule.full_clean()
    rule.save()

    fire(chat)

    assert [r for _, r in smtp_sink.messages] == [["boss@crm.example"]]
    assert smtp_sink.messages[0][0]["Reply-To"] is None
    assert not OutboundEmail.objects.exists()

"""Survey invitations and reminders are threaded: a real SMTP server (aiosmtpd) receives each
with its own Message-ID and the support Reply-To, recorded against the invitation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from customers.channels.threading import find_outbound
from customers.models import OutboundEmail
from surveys import services
from surveys.models import Invitation
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def test_an_invitation_and_its_reminder_are_threaded_to_the_invitation(smtp_sink, settings, survey):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "crm.example"
    settings.SUPPORT_REPLY_TO = "support@crm.example"
    customer = CustomerFactory(email="grace@example.com")
    interaction = InteractionFactory(customer=customer)
    # Sent below as the task queued on commit would.
    invitation = services.create_invitation(
        survey=survey, customer=customer, interaction=interaction
    ).invitation

    assert services.send_invitation_email(invitation_id=invitation.pk) == "sent"
    with time_machine.travel(timezone.now() + timedelta(days=survey.reminder_delay_days + 1)):
        assert services.send_invitation_email(invitation_id=invitation.pk, reminder=True) == (
            "reminded"
        )

    (first, _), (reminder, _) = smtp_sink.messages
    assert first["Message-ID"] != reminder["Message-ID"]
    for message in (first, reminder):
        assert message["Reply-To"] == "support@crm.example"
        assert message["Message-ID"].endswith("@crm.example>")
        assert message["List-Unsubscribe"]  # the survey's own headers are kept
    records = OutboundEmail.objects.order_by("sent_at", "pk")
    assert [r.kind for r in records] == ["survey_invitation", "survey_reminder"]
    assert [r.message_id for r in records] == [first["Message-ID"], reminder["Message-ID"]]
    for record in records:
        assert record.about == Invitation.objects.get(pk=invitation.pk)
        assert record.interaction == interaction
        assert record.customer == customer
    assert find_outbound("", [first["Message-ID"]]).kind == "survey_invitation"


def test_a_failed_send_leaves_no_thread(settings, survey):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    customer = CustomerFactory(email="grace@example.com")
    invitation = services.create_invitation(survey=survey, customer=customer)
    assert services.send_invitation_email(invitation_id=invitation.invitation.pk) == "failed"
    assert not OutboundEmail.objects.exists()

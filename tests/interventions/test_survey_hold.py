"""While an alert on a customer is open, survey invitations to that customer are held, and sent
once it is resolved, if still due."""

from datetime import timedelta

import pytest
from django.core import mail

from interventions import conditions as cond
from interventions import engine, services
from interventions.models import Alert
from surveys.models import Invitation, Survey
from surveys.services import bulk_invite, create_invitation
from surveys.services.emails import send_invitation_email

pytestmark = pytest.mark.django_db
Send = Invitation.SendStatus


@pytest.fixture
def survey(db):
    return Survey.objects.filter(active=True).first()


@pytest.fixture
def alerted(frustrated, owner, run_queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    run_queued()
    mail.outbox.clear()
    return Alert.objects.get(recipient=owner)


def survey_mails() -> list:
    return [m for m in mail.outbox if "[MemoryCRM]" not in m.subject]


def test_an_invitation_made_while_an_alert_is_open_is_held(alerted, survey, run_queued):
    result = create_invitation(survey=survey, customer=alerted.customer)
    run_queued()
    assert result.invitation.send_status == Send.HELD
    assert survey_mails() == []


def test_resolving_the_alert_sends_the_held_invitation(
    alerted, survey, owner, run_queued, django_capture_on_commit_callbacks
):
    result = create_invitation(survey=survey, customer=alerted.customer)
    services.acknowledge_alert(alert=alerted, by=owner)
    run_queued()
    assert survey_mails() == []  # acknowledged is still open
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_alert(alert=alerted, by=owner)
    run_queued()
    result.invitation.refresh_from_db()
    assert result.invitation.send_status == Send.SENT
    assert [m.to for m in survey_mails()] == [[alerted.customer.email]]


def test_an_invitation_no_longer_due_is_not_sent_after_the_alert(
    alerted, survey, owner, run_queued
):
    result = create_invitation(survey=survey, customer=alerted.customer)
    Invitation.objects.filter(pk=result.invitation.pk).update(
        expires_at=result.invitation.created_at - timedelta(seconds=1)
    )
    services.resolve_alert(alert=alerted, by=owner)
    run_queued()
    assert survey_mails() == []


def test_the_scheduled_send_skips_a_held_customer(frustrated, survey, owner, run_queued):
    result = create_invitation(survey=survey, customer=frustrated.customer)  # queued, not sent
    engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    [intervention] = frustrated.interventions.all()
    engine.execute(intervention.pk)  # the alert opens before the send task runs
    assert send_invitation_email(invitation_id=result.invitation.pk) == "held"
    result.invitation.refresh_from_db()
    assert result.invitation.send_status == Send.HELD


def test_other_customers_are_not_held(
    alerted, survey, run_queued, django_capture_on_commit_callbacks
):
    from tests.factories import CustomerFactory

    other = CustomerFactory(email="other@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        bulk_invite(survey=survey, customers=[alerted.customer, other], created_by=None)
    run_queued()
    assert [m.to for m in survey_mails()] == [["other@example.com"]]

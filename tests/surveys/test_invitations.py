"""Creating invitations, their emails and reminders (services and tasks)."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from surveys import services, tasks, tokens
from surveys.models import Invitation, Response, Survey
from tests.factories import CustomerFactory, InteractionFactory


def create(survey, customer, **kwargs):
    return services.create_invitation(survey=survey, customer=customer, **kwargs)


def test_an_invitation_expires_after_the_link_lifetime(survey, customer):
    invitation = create(survey, customer, send=False).invitation
    assert invitation.expires_at - invitation.created_at == timedelta(days=14)


def test_the_token_is_returned_once_and_never_readable_again(survey, customer):
    result = create(survey, customer, send=False)
    assert tokens.looks_like_token(result.token)
    again = Invitation.objects.get(pk=result.invitation.pk)
    assert not hasattr(again, "token")
    assert again.token_hash == tokens.hash_token(result.token)


def test_an_opted_out_customer_is_skipped_with_the_reason(survey):
    customer = CustomerFactory(survey_opt_out=True)
    result = create(survey, customer)
    assert result.token is None
    assert result.invitation.skipped_reason == Invitation.SkipReason.OPTED_OUT
    assert result.invitation.send_status == Invitation.SendStatus.SKIPPED
    assert result.invitation.token_hash is None


def test_a_customer_without_email_is_skipped(survey):
    result = create(survey, CustomerFactory(email=""))
    assert result.skipped_reason == Invitation.SkipReason.NO_EMAIL


def test_an_inactive_survey_invites_nobody(survey, customer):
    survey.active = False
    survey.save()
    assert create(survey, customer).skipped_reason == Invitation.SkipReason.INACTIVE


def test_the_frequency_limit_skips_a_second_invitation_across_surveys(survey, nps_survey, customer):
    assert not create(survey, customer).skipped_reason
    second = create(nps_survey, customer)
    assert second.skipped_reason == Invitation.SkipReason.TOO_SOON
    assert second.token is None


def test_the_frequency_limit_ends_after_its_days(survey, customer):
    create(survey, customer)
    with time_machine.travel(timezone.now() + timedelta(days=survey.frequency_limit_days, hours=1)):
        assert not create(survey, customer).skipped_reason


def test_skipped_invitations_do_not_count_against_the_limit(survey, customer):
    customer.survey_opt_out = True
    customer.save()
    create(survey, customer)
    customer.survey_opt_out = False
    customer.save()
    assert not create(survey, customer).skipped_reason


def test_a_frequency_limit_of_zero_allows_every_invitation(survey, customer):
    survey.frequency_limit_days = 0
    survey.save()
    create(survey, customer)
    assert not create(survey, customer).skipped_reason


def test_the_interaction_must_belong_to_the_customer(survey, customer, other_customer):
    with pytest.raises(ValidationError):
        create(survey, customer, interaction=InteractionFactory(customer=other_customer))


def test_bulk_invite_counts_invited_and_skipped_by_reason(survey, manager):
    fresh = CustomerFactory.create_batch(3)
    opted_out = CustomerFactory(survey_opt_out=True)
    recent = CustomerFactory()
    create(survey, recent)
    summary = services.bulk_invite(
        survey=survey, customers=[*fresh, opted_out, recent], created_by=manager
    )
    assert summary.invited == 3
    assert dict(summary.skipped) == {"opted_out": 1, "too_soon": 1}
    assert Invitation.objects.filter(created_by=manager).count() == 5


# --- Email -------------------------------------------------------------------------------


@pytest.fixture
def sent(survey, customer, interaction, django_capture_on_commit_callbacks, run_queued):
    """An invitation created with send=True and its email task run."""
    with django_capture_on_commit_callbacks(execute=True):
        result = create(survey, customer, interaction=interaction)
    assert run_queued() == ["surveys.tasks.send_invitation"]
    result.invitation.refresh_from_db()
    return result.invitation


def _link(message) -> str:
    import re

    return re.search(r"http://testserver(/s/[A-Za-z0-9_-]{43}/)", message.body).group(1)


def test_the_email_is_sent_by_a_task_queued_on_commit(sent):
    assert len(mail.outbox) == 1
    assert sent.send_status == Invitation.SendStatus.SENT
    assert sent.sent_at is not None
    assert sent.sent_to == "ada@example.com"
    assert sent.send_attempts == 1


def test_nothing_is_queued_when_the_transaction_rolls_back(survey, customer, run_queued):
    from django.db import transaction

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        create(survey, customer)
        raise Boom
    assert run_queued() == []
    assert not mail.outbox


def test_the_email_has_text_and_html_parts_with_a_working_link(sent, survey, settings):
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert survey.name in message.subject
    assert survey.open_question in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    path = _link(message)
    assert f"http://testserver{path}" in html
    page = Client().get(path)
    assert page.status_code == 200
    assert survey.open_question in page.content.decode()


def test_the_emailed_link_is_not_stored(sent):
    path = _link(mail.outbox[0])
    raw = path.split("/")[2]
    assert sent.token_hash == tokens.hash_token(raw)
    assert raw not in str(list(Invitation.objects.values()))


def test_the_customer_name_is_escaped_in_the_html_email(
    survey, django_capture_on_commit_callbacks, run_queued
):
    customer = CustomerFactory(name="<script>alert(1)</script>")
    with django_capture_on_commit_callbacks(execute=True):
        create(survey, customer)
    run_queued()
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_a_duplicated_send_task_sends_once(sent):
    assert tasks.send_invitation(sent.pk) == "already sent"
    assert len(mail.outbox) == 1


def test_a_failed_send_is_recorded_and_retried_by_the_sweep(
    survey, customer, settings, django_capture_on_commit_callbacks, run_queued
):
    settings.EMAIL_BACKEND = "tests.surveys.failing_email.Backend"
    with django_capture_on_commit_callbacks(execute=True):
        result = create(survey, customer)
    run_queued()
    invitation = Invitation.objects.get(pk=result.invitation.pk)
    assert invitation.send_status == Invitation.SendStatus.FAILED
    assert "ConnectionRefusedError" in invitation.send_error
    assert invitation.token_hash == tokens.hash_token(result.token)  # no unsent link stored
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tasks.sweep()
    assert "surveys.tasks.send_invitation" in run_queued()
    invitation.refresh_from_db()
    assert invitation.send_status == Invitation.SendStatus.SENT
    assert invitation.send_error == ""
    assert invitation.send_attempts == 2
    assert len(mail.outbox) == 1


def test_a_customer_who_opted_out_before_sending_gets_no_email(
    survey, customer, django_capture_on_commit_callbacks, run_queued
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = create(survey, customer).invitation
    customer.survey_opt_out = True
    customer.save()
    run_queued()
    invitation.refresh_from_db()
    assert not mail.outbox
    assert invitation.skipped_reason == Invitation.SkipReason.OPTED_OUT
    assert invitation.token_hash is None


# --- Reminders -----------------------------------------------------------------------------


def test_an_unanswered_invitation_is_reminded_once_after_the_delay(sent, survey, run_queued):
    first = _link(mail.outbox[0])
    tasks.sweep()
    assert run_queued() == []  # not yet due
    with time_machine.travel(
        timezone.now() + timedelta(days=survey.reminder_delay_days, minutes=1)
    ):
        tasks.sweep()
        assert run_queued() == ["surveys.tasks.send_reminder"]
        tasks.sweep()
        assert run_queued() == []
        assert len(mail.outbox) == 2
        reminder = mail.outbox[1]
        assert reminder.subject.startswith("Reminder:")
        assert Client().get(first).status_code == 200  # the first email's link still works
        assert Client().get(_link(reminder)).status_code == 200


def test_an_answered_invitation_gets_no_reminder(sent, survey, run_queued):
    Client().post(_link(mail.outbox[0]), {"rating": "5"})
    assert Response.objects.count() == 1
    with time_machine.travel(
        timezone.now() + timedelta(days=survey.reminder_delay_days, minutes=1)
    ):
        tasks.sweep()
        assert "surveys.tasks.send_reminder" not in run_queued()
    assert len(mail.outbox) == 1


def test_a_survey_without_reminders_sends_none(sent, survey, run_queued):
    Survey.objects.filter(pk=survey.pk).update(reminder_delay_days=0)
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        tasks.sweep()
        assert run_queued() == []


def test_the_schedule_command_is_idempotent(db):
    from django.core.management import call_command

    call_command("setup_survey_schedules")
    call_command("setup_survey_schedules")
    schedule = Schedule.objects.get(name=tasks.SWEEP_NAME)
    assert schedule.func == "surveys.tasks.sweep"
    assert (
        Schedule.objects.get(name=tasks.RECALIBRATE_NAME).func == "surveys.tasks.recalibrate_tags"
    )
    assert Schedule.objects.get(name=tasks.SCORING_NAME).func == "surveys.tasks.score_pending"
    assert Schedule.objects.filter(name__startswith="surveys-").count() == 3


def test_the_email_offers_a_one_click_opt_out(sent):
    message = mail.outbox[0]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert link.endswith("/opt-out/")
    assert link in message.body
    assert link in message.alternatives[0][0]
    Client().post(link.removeprefix("http://testserver"))
    sent.customer.refresh_from_db()
    assert sent.customer.survey_opt_out


def test_bulk_invite_runs_a_constant_number_of_queries(survey, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(n: int) -> int:
        customers = CustomerFactory.create_batch(n)
        with CaptureQueriesContext(connection) as ctx:
            services.bulk_invite(survey=survey, customers=customers, created_by=manager)
        return len(ctx)

    assert count(2) == count(20)


def test_bulk_invitations_are_emailed_in_chunks(
    survey, manager, django_capture_on_commit_callbacks, run_queued
):
    customers = CustomerFactory.create_batch(30)
    with django_capture_on_commit_callbacks(execute=True):
        services.bulk_invite(survey=survey, customers=customers, created_by=manager)
    assert run_queued() == ["surveys.tasks.send_invitations"] * 2
    assert len(mail.outbox) == 30
    assert set(Invitation.objects.values_list("send_status", flat=True)) == {"sent"}
    assert len({m.body for m in mail.outbox}) == 30  # each with its own link


def test_the_email_dates_read_in_the_customers_time_zone(
    survey, django_capture_on_commit_callbacks, run_queued
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    customer = CustomerFactory(timezone="Pacific/Kiritimati")  # UTC+14
    # Created at 12:00 UTC, the link expires 14 days later at 02:00 the next day there.
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            create(survey, customer)
        run_queued()
    assert "expires on 16 March 2026" in mail.outbox[0].body

"""The engine: events → interventions (once per rule, subject and episode), scheduling, claiming,
skipping, and executing exactly once in effect."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from customers.models import Interaction, JourneyStage
from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, Intervention, OutboundEmail
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status


def fire(subject, event=cond.INTERACTION_SCORED):
    return engine.fire_event(event=event, subject=subject)


def test_matching_event_creates_an_intervention_with_why_it_fired(frustrated):
    [intervention] = fire(frustrated)
    assert intervention.rule.slug == "frustration-alert"
    assert intervention.customer == frustrated.customer
    assert intervention.interaction == frustrated
    assert intervention.status == Status.SCHEDULED
    assert intervention.why_fired["event"] == "interaction.scored"
    assert intervention.why_fired["conditions"] == [
        {"field": "sentiment_label", "op": "eq", "value": "negative", "actual": "negative"},
        {"field": "sentiment_confidence", "op": "gte", "value": 0.8, "actual": 0.95},
        {"field": "stage_is_critical", "op": "eq", "value": True, "actual": True},
    ]


def test_non_matching_event_creates_nothing(frustrated):
    frustrated.sentiment_confidence = 0.5
    assert fire(frustrated) == []
    assert not Intervention.objects.exists()


def test_unscored_interaction_matches_nothing(frustrated):
    frustrated.sentiment_label = ""
    frustrated.sentiment_confidence = None
    assert fire(frustrated) == []


def test_inactive_rule_does_not_fire(frustrated, rule):
    rule("frustration-alert", active=False)
    assert fire(frustrated) == []


def test_duplicated_event_fires_once(frustrated):
    fire(frustrated)
    assert fire(frustrated) == []
    assert Intervention.objects.count() == 1


def test_cooldown_holds_back_a_second_subject_of_the_same_customer(frustrated):
    fire(frustrated)
    second = InteractionFactory(
        customer=frustrated.customer,
        stage=frustrated.stage,
        sentiment_label="negative",
        sentiment_confidence=0.9,
    )
    assert fire(second) == []
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert len(fire(second)) == 1


def test_immediate_intervention_is_queued_on_commit(frustrated, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    with django_capture_on_commit_callbacks(execute=True):
        fire(frustrated)
    assert OrmQ.objects.count() == 1


def test_execution_alerts_owner_and_managers_and_emails_them(frustrated, manager, run_queued):
    [intervention] = fire(frustrated)
    assert engine.execute(intervention.pk) == Status.DONE
    recipients = set(Alert.objects.values_list("recipient__username", flat=True))
    assert recipients == {"owner", "manager"}
    assert sorted(m.to[0] for m in mail.outbox) == ["manager@example.com", "owner@example.com"]
    intervention.refresh_from_db()
    assert intervention.result["alerts"] == ["owner", "manager"]
    assert intervention.attempts == 1 and intervention.finished_at


def test_executing_twice_sends_once(frustrated, manager):
    [intervention] = fire(frustrated)
    engine.execute(intervention.pk)
    assert engine.execute(intervention.pk) == "not claimed"
    assert len(mail.outbox) == 2  # one per person
    assert Alert.objects.count() == 2


def test_a_redelivered_task_after_worker_death_does_not_send_again(frustrated, manager):
    """The worker sent everything, then died before recording the outcome: the row is left
    "running". The reclaim runs it again and every effect is found already done."""
    [intervention] = fire(frustrated)
    engine.execute(intervention.pk)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    assert engine.execute(intervention.pk) == Status.DONE
    assert len(mail.outbox) == 2
    assert OutboundEmail.objects.filter(status="sent").count() == 2


def test_worker_death_before_sending_is_reclaimed_and_sends_once(frustrated):
    [intervention] = fire(frustrated)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING, started_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    assert engine.dispatch_due()["queued"] == 1
    assert engine.execute(intervention.pk) == Status.DONE
    assert len(mail.outbox) == 1  # the owner; there are no managers
    intervention.refresh_from_db()
    assert intervention.attempts == 2


def test_running_row_is_not_reclaimed_before_the_timeout(frustrated):
    [intervention] = fire(frustrated)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    assert engine.execute(intervention.pk) == "not claimed"
    assert mail.outbox == []


def test_death_mid_send_is_not_resent_and_is_reported(frustrated):
    """A worker died between claiming the email and recording it: it may have gone out, so it is
    never re-sent automatically; the intervention fails and says why."""
    [intervention] = fire(frustrated)
    OutboundEmail.objects.create(
        key=f"{intervention.pk}:alert:owner@example.com",
        intervention=intervention,
        to="owner@example.com",
        subject="s",
        body="b",
        status=OutboundEmail.Status.SENDING,
    )
    assert engine.execute(intervention.pk) == Status.FAILED
    intervention.refresh_from_db()
    assert "not re-sent automatically" in intervention.last_error
    assert mail.outbox == []


def test_worker_that_keeps_dying_gives_up(frustrated, settings):
    [intervention] = fire(frustrated)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        attempts=settings.INTERVENTIONS_MAX_ATTEMPTS,
    )
    assert engine.dispatch_due()["gave_up"] == 1
    intervention.refresh_from_db()
    assert intervention.status == Status.FAILED


def test_rows_far_past_due_are_skipped_with_a_reason(frustrated, settings):
    [intervention] = fire(frustrated)
    later = timezone.now() + timedelta(minutes=settings.INTERVENTIONS_MAX_LATENESS_MINUTES + 5)
    with time_machine.travel(later):
        assert engine.dispatch_due()["too_late"] == 1
    intervention.refresh_from_db()
    assert intervention.status == Status.SKIPPED
    assert "too late" in intervention.result["skipped"]
    assert mail.outbox == []


def test_late_execution_of_a_queued_task_is_skipped(frustrated, settings):
    [intervention] = fire(frustrated)
    later = timezone.now() + timedelta(minutes=settings.INTERVENTIONS_MAX_LATENESS_MINUTES + 5)
    with time_machine.travel(later):
        assert engine.execute(intervention.pk) == Status.SKIPPED
    assert mail.outbox == []


def test_rule_disabled_before_due_skips(frustrated, rule):
    [intervention] = fire(frustrated)
    rule("frustration-alert", active=False)
    assert engine.execute(intervention.pk) == Status.SKIPPED
    intervention.refresh_from_db()
    assert intervention.result == {
        "skipped": "The rule was disabled before the intervention was due."
    }


def test_delayed_intervention_waits_for_the_claimer(frustrated, rule):
    rule("frustration-alert", delay=timedelta(hours=2))
    [intervention] = fire(frustrated)
    assert engine.execute(intervention.pk) == "not claimed"
    assert engine.dispatch_due()["queued"] == 0
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        assert engine.dispatch_due()["queued"] == 1
        assert engine.execute(intervention.pk) == Status.DONE


@time_machine.travel(datetime(2026, 3, 10, 20, 0, tzinfo=UTC), tick=False)
def test_next_morning_is_in_the_customer_time_zone(rule):
    rule("frustration-alert", at_local_hour=9)
    customer = CustomerFactory(timezone="Asia/Tokyo")  # 05:00 on the 11th there
    interaction = InteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        sentiment_label="negative",
        sentiment_confidence=0.9,
    )
    [intervention] = fire(interaction)
    assert intervention.scheduled_for == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)  # 09:00 JST


@time_machine.travel(datetime(2026, 3, 10, 20, 0, tzinfo=UTC), tick=False)
def test_next_morning_without_time_zone_uses_the_site_zone(rule, frustrated):
    rule("frustration-alert", at_local_hour=9)
    [intervention] = fire(frustrated)
    assert intervention.scheduled_for == datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


def test_cancelled_intervention_never_runs(frustrated, manager):
    from interventions import services

    [intervention] = fire(frustrated)
    services.cancel_intervention(intervention=intervention, by=manager)
    assert engine.execute(intervention.pk) == "not claimed"
    assert mail.outbox == []


def test_retry_of_a_failed_intervention_runs_again(frustrated, manager, run_queued, settings):
    from interventions import services

    settings.EMAIL_BACKEND = "tests.interventions.test_engine.BrokenBackend"
    [intervention] = fire(frustrated)
    assert engine.execute(intervention.pk) == Status.FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.retry_intervention(intervention=intervention, by=manager)
    intervention.refresh_from_db()
    assert intervention.status == Status.SCHEDULED
    assert engine.execute(intervention.pk) == Status.DONE
    assert len(mail.outbox) == 2
    assert Alert.objects.count() == 2  # not doubled by the retry


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")


def test_daily_episode_fires_once_a_day(rule):
    rule(
        "escalation-watch",
        event=cond.DAILY,
        conditions=[{"field": "hours_without_reply", "op": "gte", "value": 24}],
        cooldown=None,
        episode="daily",
    )
    customer = CustomerFactory()
    InteractionFactory(
        customer=customer,
        direction=Interaction.Direction.INBOUND,
        occurred_at=timezone.now() - timedelta(days=2),
    )
    from interventions import tasks

    assert tasks.daily_events()[cond.DAILY] == 1
    assert tasks.daily_events()[cond.DAILY] == 0
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert tasks.daily_events()[cond.DAILY] == 1


def test_manager_without_email_still_gets_the_alert(frustrated):
    UserFactory(username="quiet", email="", role="Manager")
    [intervention] = fire(frustrated)
    engine.execute(intervention.pk)
    assert Alert.objects.filter(recipient__username="quiet").exists()

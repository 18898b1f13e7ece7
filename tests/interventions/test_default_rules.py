"""The five default rules, end to end in this process: the other apps' signal → the receiver →
the firing task → the intervention → (the claimer, for delayed ones) → the effect.
The frustration alert also runs through a real django-q2 cluster in test_cluster.py."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from customers.models import JourneyStage
from customers.signals import interactions_logged
from interventions import engine
from interventions.models import Alert, FollowUpTask, Intervention
from moments.models import Moment, MomentTag, MomentTagging
from moments.signals import interactions_scored, moments_created
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status


def scored(interaction, run_queued):
    interactions_scored.send(sender=None, interaction_ids=[interaction.pk])
    run_queued()


def make_moment(customer, polarity, tags=(), **extra):
    moment = Moment.objects.create(
        customer=customer,
        occurred_at=extra.pop("occurred_at", timezone.now()),
        polarity=polarity,
        intensity=0.8,
        impact=2.0 if polarity == "positive" else -2.0,
        detected_by="test",
        **extra,
    )
    for slug in tags:
        MomentTagging.objects.create(moment=moment, tag=MomentTag.objects.get(slug=slug))
    moments_created.send(sender=None, moment_ids=[moment.pk])
    return moment


def later(delta):
    """Move the clock, let the claimer (every minute) queue what is due."""
    traveller = time_machine.travel(timezone.now() + delta)
    traveller.start()
    engine.dispatch_due()
    return traveller


def test_frustration_alert(frustrated, manager, run_queued):
    scored(frustrated, run_queued)
    assert set(Alert.objects.values_list("recipient__username", "priority")) == {
        ("owner", 9),
        ("manager", 9),
    }
    assert Alert.objects.first().text == "Frustrated customer: Grace Hopper (Complaint)"
    assert len(mail.outbox) == 2
    assert Intervention.objects.get().status == Status.DONE


def test_frustration_alert_once_for_a_duplicated_event(frustrated, manager, run_queued):
    scored(frustrated, run_queued)
    scored(frustrated, run_queued)
    assert Alert.objects.count() == 2
    assert len(mail.outbox) == 2


def test_positive_interaction_alerts_nobody(frustrated, run_queued):
    frustrated.sentiment_label = "positive"
    frustrated.sentiment_score = 0.9
    frustrated.save()
    scored(frustrated, run_queued)
    assert not Intervention.objects.exists()


def test_escalation_watch_on_the_third_negative_in_7_days(owner, manager, run_queued):
    customer = CustomerFactory(owner=owner)
    support = JourneyStage.objects.get(slug="support")  # not critical: no frustration alert
    for n in range(3):
        interaction = InteractionFactory(
            customer=customer,
            stage=support,
            sentiment_label="negative",
            sentiment_confidence=0.6,
            occurred_at=timezone.now() - timedelta(days=(2 - n) * 2),  # the third is news
        )
        scored(interaction, run_queued)
        assert Intervention.objects.count() == (1 if n == 2 else 0)
    alert = Alert.objects.get(recipient=manager)
    assert alert.text.startswith("Escalation watch:")
    fourth = InteractionFactory(customer=customer, stage=support, sentiment_label="negative")
    scored(fourth, run_queued)
    assert Intervention.objects.count() == 1  # cool-down: a week


def test_milestone_thank_you_the_next_morning(rule, owner, run_queued):
    rule("milestone-thank-you", active=True)
    customer = CustomerFactory(name="Linus", email="linus@example.com", owner=owner)
    make_moment(customer, "positive", tags=["fast-resolution"])
    run_queued()
    intervention = Intervention.objects.get()
    assert intervention.scheduled_for > timezone.now()
    assert timezone.localtime(intervention.scheduled_for).hour == 9
    assert mail.outbox == []
    traveller = later(intervention.scheduled_for - timezone.now() + timedelta(minutes=1))
    try:
        run_queued()
    finally:
        traveller.stop()
    [message] = mail.outbox
    assert message.to == ["linus@example.com"]
    assert message.subject == "Thank you, Linus"


def test_milestone_thank_you_needs_the_tag(rule, run_queued):
    rule("milestone-thank-you", active=True)
    make_moment(CustomerFactory(), "positive", tags=["empathy-win"])
    run_queued()
    assert not Intervention.objects.exists()


def test_stood_out_survey_a_day_after_a_positive_complaint(rule, run_queued):
    from surveys.models import Invitation

    rule("stood-out-survey", active=True)
    customer = CustomerFactory(email="rosa@example.com")
    interaction = InteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        sentiment_label="positive",
        sentiment_score=0.8,
        sentiment_confidence=0.9,
    )
    scored(interaction, run_queued)
    assert not Invitation.objects.exists()
    traveller = later(timedelta(days=1, minutes=1))
    try:
        run_queued()
    finally:
        traveller.stop()
    invitation = Invitation.objects.get()
    assert invitation.interaction == interaction
    assert [m.to for m in mail.outbox] == [["rosa@example.com"]]
    assert Intervention.objects.get().status == Status.DONE


def test_recovery_follow_up_when_no_positive_moment_came(rule, owner, run_queued):
    rule("recovery-follow-up", active=True)
    customer = CustomerFactory(owner=owner)
    make_moment(customer, "negative")
    run_queued()
    traveller = later(timedelta(days=5, minutes=1))
    try:
        run_queued()
    finally:
        traveller.stop()
    task = FollowUpTask.objects.get()
    assert task.assignee == owner
    assert task.title == f"Recovery follow-up: {customer.name}"


def test_recovery_follow_up_skipped_after_a_positive_moment(rule, owner, run_queued):
    rule("recovery-follow-up", active=True)
    customer = CustomerFactory(owner=owner)
    make_moment(customer, "negative")
    run_queued()
    make_moment(customer, "positive", occurred_at=timezone.now() + timedelta(days=1))
    traveller = later(timedelta(days=5, minutes=1))
    try:
        run_queued()
    finally:
        traveller.stop()
    assert not FollowUpTask.objects.exists()
    intervention = Intervention.objects.get()
    assert intervention.status == Status.SKIPPED
    assert intervention.result["still_true"][0]["actual"] is True


def _intervention_tasks():
    from django_q.models import OrmQ

    return [q for q in OrmQ.objects.all() if q.task["func"].startswith("interventions.")]


def test_logged_interactions_are_only_queued_when_a_rule_listens(frustrated, rule):
    interactions_logged.send(sender=None, interaction_ids=[frustrated.pk])
    assert _intervention_tasks() == []  # no default rule listens to interaction.logged
    rule("milestone-thank-you", event="stage.reached", conditions=[], active=True)
    interactions_logged.send(sender=None, interaction_ids=[frustrated.pk])
    assert len(_intervention_tasks()) == 1


def test_stage_reached_fires_on_the_first_interaction_in_a_new_stage(rule, run_queued):
    rule(
        "milestone-thank-you",
        event="stage.reached",
        conditions=[{"field": "stage", "op": "eq", "value": "renewal"}],
        active=True,
    )
    customer = CustomerFactory()
    renewal = JourneyStage.objects.get(slug="renewal")
    first = InteractionFactory(customer=customer, stage=renewal, occurred_at=timezone.now())
    interactions_logged.send(sender=None, interaction_ids=[first.pk])
    run_queued()
    assert Intervention.objects.get().event == "stage.reached"
    second = InteractionFactory(
        customer=customer, stage=renewal, occurred_at=timezone.now() + timedelta(minutes=1)
    )
    interactions_logged.send(sender=None, interaction_ids=[second.pk])
    run_queued()
    assert Intervention.objects.count() == 1  # already in that stage

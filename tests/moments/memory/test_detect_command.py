"""`manage.py detect_moments`: detection again over every customer's history (after an upgrade
of the rules), taking back what no longer qualifies, and firing no real-time alert."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from interventions.models import Alert, Rule
from moments.models import Moment
from tests.moments.factories import MomentFactory, ScoredInteractionFactory, long_text, stage


def run_queued_tasks() -> None:
    """Play the worker for what detection queued (rules firing on new moments)."""
    for _ in range(50):
        queued = OrmQ.objects.order_by("pk").first()
        if queued is None:
            return
        task = queued.task
        queued.delete()
        import_string(task["func"])(*task.get("args", ()), **task.get("kwargs", {}))


def negative_moment_alert() -> Rule:
    return Rule.objects.create(
        slug="negative-moment-alert",
        name="Negative moment",
        active=True,
        event="moment.created",
        conditions=[{"field": "moment_polarity", "op": "eq", "value": "negative"}],
        action=Rule.Action.ALERT,
        action_config={"recipients": ["managers"], "text": "Negative moment: {{ customer.name }}"},
    )


def furious_complaint(customer, when):
    return ScoredInteractionFactory(
        customer=customer,
        stage=stage("complaint"),
        occurred_at=when,
        sentiment_score=-0.95,
        sentiment_confidence=0.97,
        body=long_text("I am furious: the order is lost again and nobody answers my emails."),
    )


def test_detecting_again_takes_back_unearned_moments_and_finds_earned_ones_silently(
    customer, manager
):
    negative_moment_alert()
    weeks_ago = timezone.now() - timedelta(weeks=7)
    # What the old rules made of a flat renewal note: a moment from the critical stage alone.
    flat = ScoredInteractionFactory(
        customer=customer,
        stage=stage("renewal"),
        occurred_at=weeks_ago,
        sentiment_score=0.1,
        subject="Renewal review",
    )
    MomentFactory(interaction=flat, detected_by="critical_stage", reasons=[])
    # A furious complaint from back then that the old rules had not got to.
    furious = furious_complaint(customer, weeks_ago + timedelta(days=1))
    OrmQ.objects.all().delete()

    call_command("detect_moments", verbosity=0)
    run_queued_tasks()

    assert list(Moment.objects.values_list("interaction_id", flat=True)) == [furious.pk]
    # Seven weeks old: no real-time alert for its new moment.
    assert not Alert.objects.exists()


def test_a_fresh_moment_found_by_detecting_again_does_alert(customer, manager):
    # The contrast to the test above: the rule does fire for news.
    negative_moment_alert()
    furious = furious_complaint(customer, timezone.now() - timedelta(minutes=5))
    OrmQ.objects.all().delete()

    call_command("detect_moments", verbosity=0)
    run_queued_tasks()

    assert Moment.objects.filter(interaction=furious).exists()
    assert Alert.objects.filter(recipient=manager).count() == 1


def test_a_moment_an_agent_made_stays(customer, agent):
    flat = ScoredInteractionFactory(customer=customer, sentiment_score=0.0)
    MomentFactory(interaction=flat, detected_by="agent", created_by=agent)

    call_command("detect_moments", verbosity=0)

    assert Moment.objects.filter(interaction=flat).exists()

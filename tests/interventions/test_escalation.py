"""A cool-down never swallows a new, more severe event (escalation re-alerts; the same or
milder does not), and a fresh complaint alerts each person exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Interaction, JourneyStage
from interventions.models import Alert, Intervention
from moments.sentiment.classifier import Score
from moments.sentiment.services import record_scores
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def negative(p: float) -> Score:
    return Score(
        label="negative",
        score=-p,
        confidence=p,
        probabilities={"negative": p, "neutral": 1 - p, "positive": 0.0},
    )


@pytest.fixture
def customer(owner):
    return CustomerFactory(name="Grace Hopper", email="grace@example.com", owner=owner)


@pytest.fixture
def complain(customer, run_queued):
    """Log a complaint, score it with the given negativity, run the reactions."""

    def make(
        p: float, *, ago: timedelta = timedelta(0), body: str = "Still broken."
    ) -> Interaction:
        interaction = InteractionFactory(
            customer=customer,
            stage=JourneyStage.objects.get(slug="complaint"),
            body=body,
            occurred_at=timezone.now() - ago,
            sentiment_label="",
            sentiment_score=None,
            sentiment_confidence=None,
            scored_at=None,
        )
        record_scores(version="v1", scores={interaction.pk: negative(p)})
        run_queued()
        return interaction

    return make


def alerts_about(interaction, person) -> int:
    return Alert.objects.filter(interaction=interaction, recipient=person).count()


def test_a_more_severe_complaint_within_the_cool_down_re_alerts(complain, owner):
    complain(0.85)
    worse = complain(0.97, body="I am furious and want a refund now.")
    assert alerts_about(worse, owner) == 1
    intervention = Intervention.objects.get(interaction=worse, rule__slug="frustration-alert")
    assert intervention.why_fired["escalation"] == {"severity": 0.97, "previous": 0.85}
    assert "worse than the last alert" in Alert.objects.get(interaction=worse).reason


def test_the_same_or_milder_within_the_cool_down_does_not(complain, owner, rule):
    rule("escalation-watch", active=False)  # the third complaint in 7 days is its own alert
    complain(0.9)
    same = complain(0.9)
    milder = complain(0.85)
    assert alerts_about(same, owner) == 0
    assert alerts_about(milder, owner) == 0
    assert Alert.objects.filter(recipient=owner).count() == 1


def test_escalation_compares_with_the_worst_alerted_in_the_cool_down(complain, owner, rule):
    rule("escalation-watch", active=False)
    complain(0.85)
    complain(0.95)
    between = complain(0.9)
    assert alerts_about(between, owner) == 0


def test_a_backfill_does_not_use_up_the_cool_down(complain, owner):
    for days in (49, 48, 47):
        complain(0.95, ago=timedelta(days=days))
    fresh = complain(0.9, body="I am furious and want a refund now.")
    assert Alert.objects.filter(recipient=owner).count() == 1
    assert alerts_about(fresh, owner) == 1


def test_two_rules_matching_one_complaint_alert_each_person_once(complain, owner, manager):
    # The third complaint in 7 days matches the frustration alert and the escalation watch.
    complain(0.9, ago=timedelta(hours=3))
    complain(0.9, ago=timedelta(hours=2))
    third = complain(0.95)
    assert alerts_about(third, owner) == 1
    assert alerts_about(third, manager) == 1

"""Each alert names its interaction (link to its anchor on the timeline, an excerpt) and says
why in words, not in condition syntax."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from customers.models import JourneyStage
from interventions import explain
from interventions.models import Alert
from moments.sentiment.classifier import Score
from moments.sentiment.services import record_scores
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

FURIOUS = Score(
    label="negative",
    score=-0.94,
    confidence=0.94,
    probabilities={"negative": 0.94, "neutral": 0.06, "positive": 0.0},
)


@pytest.fixture
def third_complaint(owner, run_queued):
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com", owner=owner)
    complaint = JourneyStage.objects.get(slug="complaint")
    for days in (8, 3):  # two earlier complaints within 10 days (not news themselves)
        InteractionFactory(
            customer=customer,
            stage=complaint,
            direction="inbound",
            sentiment_label="negative",
            sentiment_score=-0.8,
            sentiment_confidence=0.8,
            occurred_at=timezone.now() - timedelta(days=days),
        )
    interaction = InteractionFactory(
        customer=customer,
        stage=complaint,
        direction="inbound",
        subject="",
        body="I am furious and want a refund now.",
        sentiment_label="",
        sentiment_score=None,
        sentiment_confidence=None,
        scored_at=None,
    )
    record_scores(version="v1", scores={interaction.pk: FURIOUS})
    run_queued()
    return interaction


def test_the_alert_names_the_interaction_and_links_its_anchor(third_complaint, owner):
    alert = Alert.objects.get(recipient=owner)
    assert alert.interaction == third_complaint
    assert alert.excerpt == "I am furious and want a refund now."
    customer = third_complaint.customer
    assert alert.get_absolute_url() == f"/customers/{customer.pk}/#interaction-{third_complaint.pk}"


def test_the_alert_says_why_in_words(third_complaint, owner):
    alert = Alert.objects.get(recipient=owner)
    assert alert.reason == (
        'Customer wrote "I am furious and want a refund now." — negative 94 %, '
        "Complaint stage, 3rd complaint in 10 days."
    )
    assert "gte" not in alert.reason


def test_the_inbox_shows_the_reason_and_links_the_interaction(third_complaint, owner, client):
    client.force_login(owner)
    html = client.get("/alerts/").content.decode()
    assert "3rd complaint in 10 days" in html
    assert f"#interaction-{third_complaint.pk}" in html


def test_the_timeline_has_the_anchor_the_alert_links(third_complaint, owner, client):
    client.force_login(owner)
    html = client.get(third_complaint.customer.get_absolute_url()).content.decode()
    assert f'id="interaction-{third_complaint.pk}"' in html


def test_the_alert_email_says_why_and_links_the_interaction(third_complaint, owner):
    [email] = [m for m in mail.outbox if owner.email in m.to]
    assert "3rd complaint in 10 days" in email.body
    assert f"#interaction-{third_complaint.pk}" in email.body
    assert "gte" not in email.body


def test_excerpt_cuts_long_text_at_a_word():
    text = "I am furious " + "really " * 30 + "and want a refund now."
    cut = explain.excerpt(text, 40)
    assert len(cut) <= 40 and cut.endswith("…") and cut.startswith("I am furious really")

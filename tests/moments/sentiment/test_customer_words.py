"""Customer words only: what is scored as the customer's sentiment is the customer's own text.

An agent's outbound reply or internal note is never scored: it carries no customer sentiment,
is not "pending" (no badge polling, no pending counts), never moves the customer's figures and
never fires a sentiment rule. Rows scored before this rule are cleared, silently.
"""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from customers import services as customer_services
from customers.models import Interaction, JourneyStage
from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, Intervention
from moments.models import SentimentCorrection
from moments.sentiment import selectors, services, tasks
from tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db

FURIOUS_NOTE = "This customer is furious and abusive, terrible"


def _note(customer, direction=Interaction.Direction.OUTBOUND, **kwargs) -> Interaction:
    return customer_services.log_interaction(
        customer=customer,
        channel=Interaction.Channel.NOTE,
        direction=direction,
        subject="Escalation",
        body=FURIOUS_NOTE,
        occurred_at=kwargs.pop("occurred_at", timezone.now() - timedelta(minutes=1)),
        **kwargs,
    )


def _legacy_score(interaction: Interaction, *, score: float = -0.95) -> Interaction:
    """A score written before "customer words only" (what the data migration clears)."""
    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label="negative" if score < 0 else "positive",
        sentiment_score=score,
        sentiment_confidence=0.97,
        sentiment_model="20260101T000000Z-full-minilm",
        scored_at=timezone.now(),
    )
    interaction.refresh_from_db()
    return interaction


@pytest.mark.parametrize("direction", ["outbound", "internal"])
def test_agent_note_is_not_scored_and_inbound_still_is(customer, sentiment_model, direction):
    note = _note(customer, direction=direction)
    inbound = customer_services.log_interaction(
        customer=customer, channel="email", subject="Thanks", body="Thank you, wonderful help!"
    )

    result = tasks.score_interactions([note.pk, inbound.pk])

    assert result == {"scored": 1, "seen": 1, "unavailable": ""}
    note.refresh_from_db()
    inbound.refresh_from_db()
    assert note.scored_at is None and note.sentiment_label == "" and note.sentiment_score is None
    assert note.sentiment_state == "not_scored"
    assert inbound.sentiment_label == "positive" and inbound.sentiment_state == "scored"
    # The sweep does not pick it up either, then or later.
    assert tasks.score_pending()["seen"] == 0
    note.refresh_from_db()
    assert note.scored_at is None


def test_agent_note_does_not_count_as_pending(client, admin_user, agent_client, customer):
    _note(customer)
    _note(customer, direction=Interaction.Direction.INTERNAL)
    InteractionFactory(customer=customer)  # the customer's words: pending until scored

    assert selectors.sentiment_status().pending == 1
    client.force_login(admin_user)
    assert "\nmemorycrm_sentiment_pending 1.0\n" in client.get("/metrics").content.decode()
    body = agent_client.get(reverse("sentiment-status")).content.decode()
    assert "1 interaction waiting to be scored" in body


def test_status_api_counts_only_customer_words_as_pending(agent_api, customer):
    _note(customer)
    InteractionFactory(customer=customer)
    assert agent_api.get("/api/v1/sentiment/status/").json()["pending"] == 1


def test_badge_says_agent_note_not_scored_and_does_not_poll(agent_client, customer):
    note = _note(customer)
    body = agent_client.get(reverse("sentiment-badge", args=[note.pk])).content.decode()
    assert "agent note — not scored" in body
    assert "sentiment pending" not in body and "hx-trigger" not in body
    assert "sentiment-correct" not in body  # nothing to correct


def test_agent_note_does_not_lower_the_customer_sentiment_figures(customer):
    kind = InteractionFactory(customer=customer, occurred_at=timezone.now() - timedelta(hours=2))
    _legacy_score(kind, score=0.8)
    # Even a row that still carries a score from before (or was scored by hand) stays out.
    _legacy_score(_note(customer))

    series = selectors.sentiment_series(customer)
    assert [p.interaction_id for p in series] == [kind.pk]
    facts = cond.Facts(event=cond.DAILY, subject=customer)
    assert cond.FIELDS["negative_interactions_7d"].get(facts) == 0


def test_agent_note_does_not_fire_a_negative_sentiment_rule(customer):
    note = _legacy_score(_note(customer, stage=JourneyStage.objects.get(slug="complaint")))
    assert (
        cond.FIELDS["sentiment_label"].get(cond.Facts(event=cond.INTERACTION_SCORED, subject=note))
        is None
    )
    assert engine.fire_event(event=cond.INTERACTION_SCORED, subject=note) == []
    assert not Intervention.objects.exists()


def test_same_words_from_the_customer_do_fire_the_rule(customer):
    said = InteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        body=FURIOUS_NOTE,
        occurred_at=timezone.now() - timedelta(minutes=1),
    )
    _legacy_score(said)
    [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=said)
    assert intervention.rule.slug == "frustration-alert"


def test_agent_note_cannot_be_corrected_as_customer_sentiment(agent, agent_client, customer):
    note = _note(customer)
    with pytest.raises(ValidationError):
        services.correct_sentiment(interaction=note, label="negative", user=agent)
    response = agent_client.post(
        reverse("sentiment-correct", args=[note.pk]),
        {"label": "negative"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "agent note — not scored" in response.content.decode()
    assert not SentimentCorrection.objects.exists()
    note.refresh_from_db()
    assert note.scored_at is None


def test_api_shows_an_agent_note_as_not_scored(agent_api, customer):
    note = _note(customer)
    pending = InteractionFactory(customer=customer)
    data = agent_api.get(f"/api/v1/interactions/{note.pk}/").json()
    assert data["sentiment_state"] == "not_scored" and data["sentiment_label"] == ""
    assert agent_api.get(f"/api/v1/interactions/{pending.pk}/").json()["sentiment_state"] == (
        "pending"
    )


def test_migration_clears_agent_scores_silently(customer, django_capture_on_commit_callbacks):
    migration = importlib.import_module("customers.migrations.0008_customer_words_only")
    note = _legacy_score(_note(customer))
    internal = _legacy_score(_note(customer, direction=Interaction.Direction.INTERNAL))
    said = _legacy_score(InteractionFactory(customer=customer))
    OrmQ.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        migration.clear_agent_sentiment(apps, None)

    for row in (note, internal):
        row.refresh_from_db()
        assert (row.scored_at, row.sentiment_label, row.sentiment_score) == (None, "", None)
        assert row.sentiment_model == "" and row.sentiment_confidence is None
    said.refresh_from_db()
    assert said.sentiment_label == "negative"  # the customer's own words keep theirs
    # Silent: no task, no alert, no intervention.
    assert not OrmQ.objects.exists()
    assert not Alert.objects.exists() and not Intervention.objects.exists()


def test_alert_texts_and_webhooks_give_an_agent_note_no_customer_sentiment(customer):
    from interventions import explain, rendering

    note = _legacy_score(_note(customer))
    assert "negative" not in explain.interaction_reason(note)
    data = rendering._interaction(note)
    assert (data["sentiment_label"], data["sentiment_score"]) == ("", None)

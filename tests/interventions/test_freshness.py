"""Real-time actions (alerts, emails, webhooks) fire only for fresh events: a backfill (old
occurred_at), a CSV import and the rescoring after a model switch never alert or email."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from customers import imports
from customers.models import ImportJob, Interaction, JourneyStage
from interventions import conditions as cond
from interventions import engine
from interventions.models import Alert, Intervention
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


def complaint(customer, **fields) -> Interaction:
    """A pending (unscored) complaint in the critical complaint stage."""
    return InteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        body="I am furious and want a refund now.",
        sentiment_label="",
        sentiment_score=None,
        sentiment_confidence=None,
        scored_at=None,
        **fields,
    )


@pytest.fixture
def customer(owner):
    return CustomerFactory(name="Grace Hopper", email="grace@example.com", owner=owner)


def test_a_fresh_complaint_scored_for_the_first_time_alerts(customer, run_queued):
    interaction = complaint(customer)
    record_scores(version="v1", scores={interaction.pk: FURIOUS})
    run_queued()
    assert Alert.objects.filter(interaction=interaction).count() == 1


def test_a_backfill_of_old_complaints_fires_no_alert_and_no_email(customer, run_queued):
    old = [complaint(customer, occurred_at=timezone.now() - timedelta(weeks=7)) for _ in range(3)]
    record_scores(version="v1", scores={i.pk: FURIOUS for i in old})
    run_queued()
    assert not Alert.objects.exists()
    assert not Intervention.objects.exists()
    assert mail.outbox == []


def test_the_freshness_window_is_a_setting(customer, settings):
    interaction = complaint(customer, occurred_at=timezone.now() - timedelta(hours=30))
    record_scores(version="v1", scores={interaction.pk: FURIOUS})
    interaction.refresh_from_db()
    assert engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction) == []
    settings.INTERVENTIONS_FRESH_HOURS = 48
    assert len(engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction)) == 1


def test_rescoring_by_a_new_model_fires_no_alert(customer, run_queued):
    interaction = complaint(customer)
    mild = Score(
        label="neutral",
        score=0.0,
        confidence=0.9,
        probabilities={"negative": 0.05, "neutral": 0.9, "positive": 0.05},
    )
    record_scores(version="20260101T000000-v1", scores={interaction.pk: mild})
    run_queued()
    assert not Alert.objects.exists()
    # The switch-over: a newer model now reads it as furious. Not a new event.
    record_scores(version="20260102T000000-v2", scores={interaction.pk: FURIOUS})
    run_queued()
    assert not Alert.objects.exists()
    assert mail.outbox == []


def test_a_csv_import_marks_its_rows_and_fires_no_alert(customer, run_queued):
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%S%z")
    text = (
        "customer_email,customer_external_ref,channel,direction,occurred_at,stage,subject,body,"
        "external_ref,agent\n"
        f"grace@example.com,,email,inbound,{now},complaint,Refund,I am furious.,X-1,\n"
    )
    job = ImportJob.objects.create(kind="interactions", filename="i.csv", content=text)
    imports.run_import_job(job_id=job.pk)
    [interaction] = Interaction.objects.filter(customer=customer)
    assert interaction.imported
    record_scores(version="v1", scores={interaction.pk: FURIOUS})
    run_queued()
    assert not Alert.objects.exists()


def test_a_follow_up_task_rule_still_fires_for_a_backfill(customer, rule):
    # Only real-time actions (alert, email, webhook) are held back: a task is not noise.
    rule("frustration-alert", action="task", action_config={"title": "Call back"})
    interaction = complaint(customer, occurred_at=timezone.now() - timedelta(weeks=7))
    record_scores(version="v1", scores={interaction.pk: FURIOUS})
    interaction.refresh_from_db()
    assert len(engine.fire_event(event=cond.INTERACTION_SCORED, subject=interaction)) == 1

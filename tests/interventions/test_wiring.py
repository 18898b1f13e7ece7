"""The other apps' real write paths announce the events the rules listen to: scores recorded by
the scoring service, an answer submitted on a survey link."""

import pytest
from django.core import mail

from interventions.models import Alert, Intervention, Rule
from moments.sentiment.classifier import Score
from moments.sentiment.services import record_scores
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_scores_recorded_by_the_scoring_service_raise_the_frustration_alert(
    frustrated, manager, run_queued, django_capture_on_commit_callbacks
):
    frustrated.sentiment_label = ""
    frustrated.sentiment_score = frustrated.sentiment_confidence = None
    frustrated.save()
    angry = Score.from_probabilities({"negative": 0.92, "neutral": 0.05, "positive": 0.03})
    with django_capture_on_commit_callbacks(execute=True):
        record_scores(version="test-model", scores={frustrated.pk: angry})
    run_queued()
    assert set(Alert.objects.values_list("recipient__username", flat=True)) == {
        "owner",
        "manager",
    }
    intervention = Intervention.objects.get(rule__slug="frustration-alert")
    assert intervention.why_fired["conditions"][1]["actual"] == 0.92


def test_a_survey_answer_fires_survey_answered_rules(
    owner, run_queued, django_capture_on_commit_callbacks
):
    from surveys.models import Survey
    from surveys.services import create_invitation, submit_response

    Rule.objects.create(
        name="Low rating",
        slug="low-rating",
        event="survey.answered",
        conditions=[{"field": "survey_rating", "op": "lte", "value": 2}],
        action="alert",
        action_config={"recipients": ["owner"], "text": "Low rating from {{ customer.name }}"},
        active=True,
    )
    customer = CustomerFactory(name="Ida", owner=owner)
    survey = Survey.objects.get(name="What stood out?")
    invitation = create_invitation(survey=survey, customer=customer, send=False).invitation
    with django_capture_on_commit_callbacks(execute=True):
        submit_response(invitation=invitation, rating=1, answer="Nothing good.")
    run_queued()
    alert = Alert.objects.get()
    assert (alert.recipient, alert.text) == (owner, "Low rating from Ida")
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]

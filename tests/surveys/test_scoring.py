"""The open answer is scored by the sentiment model (the real test model from tests/moments)."""

import pytest
from django.db import IntegrityError, transaction
from django_q.models import OrmQ

from surveys import services, tasks
from surveys.models import Response
from surveys.signals import survey_answered


def _answer(invite, rating: int, text: str) -> Response:
    invitation, _ = invite()
    return services.submit_response(invitation=invitation, rating=rating, answer=text)[0]


def test_an_answer_is_announced_after_commit_and_scored_by_the_schedule(
    invite, django_capture_on_commit_callbacks
):
    announced = []

    def receiver(sender, response_id, **kwargs):
        announced.append(response_id)

    survey_answered.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = _answer(invite, 2, "Nobody called me back.")
    finally:
        survey_answered.disconnect(receiver)
    assert announced == [response.pk]
    # Not queued one by one: surveys.tasks.score_pending picks it up (tests/surveys/
    # test_answer_scoring.py).
    assert not OrmQ.objects.exists()
    assert services.pending_response_ids() == [response.pk]


def test_a_rating_without_text_is_not_queued(invite, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _answer(invite, 5, "")
    assert not OrmQ.objects.exists()


def test_without_a_model_answers_stay_pending(invite):
    response = _answer(invite, 1, "Terrible, I am furious.")
    assert tasks.score_responses([response.pk])["scored"] == 0
    response.refresh_from_db()
    assert response.scored_at is None
    assert services.pending_response_ids() == [response.pk]


def test_the_task_fills_the_answer_sentiment(invite, sentiment_model, survey):
    survey.frequency_limit_days = 0
    survey.save()
    angry = _answer(invite, 1, "This was unacceptable, I am furious and want a refund now!")
    happy = _answer(invite, 5, "Thank you so much, the agent was wonderful and so helpful!")
    assert tasks.score_responses([angry.pk, happy.pk]) == {"scored": 2, "unavailable": ""}
    angry.refresh_from_db()
    happy.refresh_from_db()
    assert angry.sentiment_label == "negative"
    assert happy.sentiment_label == "positive"
    assert angry.sentiment_score < 0 < happy.sentiment_score
    assert angry.sentiment_model == sentiment_model.version
    # A retried task writes nothing twice.
    assert tasks.score_responses([angry.pk])["scored"] == 0


def test_the_sweep_queues_answers_still_pending(invite):
    response = _answer(invite, 2, "Slow.")
    OrmQ.objects.all().delete()
    assert tasks.sweep()["to_score"] == 1
    queued = [row.task for row in OrmQ.objects.all()]
    assert [(t["func"], t["args"]) for t in queued] == [
        ("surveys.tasks.score_responses", ([response.pk],))
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("sentiment_score", 1.01), ("sentiment_confidence", -0.01), ("sentiment_confidence", 1.01)],
)
def test_the_database_refuses_a_sentiment_out_of_range(invite, field, value):
    # The same checks as an interaction's (customers.models.ScoredText).
    response = _answer(invite, 3, "Fine.")
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.filter(pk=response.pk).update(**{field: value})

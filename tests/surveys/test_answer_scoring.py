"""Answers are scored in bulk by a schedule (surveys.tasks.score_pending every
SURVEY_SCORING_MINUTES), not queued one by one when the customer submits: the real test model
scores them, a backlog drains in chunks, and without a model they wait for the next run."""

import pytest
from django_q.models import OrmQ, Schedule

from surveys import services, tasks
from surveys.models import Response
from tests.factories import CustomerFactory

ANGRY = "This was unacceptable, I am furious and want a refund now!"
HAPPY = "Thank you so much, the agent was wonderful and so helpful!"


@pytest.fixture
def answer(client, invite):
    """Answer a fresh link through the public page; returns the stored response."""

    def submit(rating: int, text: str) -> Response:
        _, token = invite(customer=CustomerFactory())
        page = client.post(f"/s/{token}/", {"rating": str(rating), "answer": text})
        assert page.status_code == 302
        return Response.objects.get(answer=text)

    return submit


def test_an_answer_gets_its_sentiment_from_the_scheduled_run(
    answer, sentiment_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        angry = answer(1, ANGRY)
        happy = answer(5, HAPPY)
    assert not OrmQ.objects.exists()  # nothing queued per answer
    assert services.pending_response_ids() == [angry.pk, happy.pk]

    assert tasks.score_pending() == {"scored": 2, "unavailable": ""}

    angry.refresh_from_db()
    happy.refresh_from_db()
    assert (angry.sentiment_label, happy.sentiment_label) == ("negative", "positive")
    assert angry.sentiment_score < 0 < happy.sentiment_score
    assert angry.sentiment_model == happy.sentiment_model == sentiment_model.version
    assert angry.scored_at is not None
    assert services.pending_response_ids() == []
    assert tasks.score_pending() == {"scored": 0, "unavailable": ""}


def test_a_backlog_is_scored_in_chunks_in_one_run(answer, sentiment_model, monkeypatch):
    monkeypatch.setattr(tasks, "SCORING_CHUNK", 2)
    for i in range(5):
        answer(1 + i % 5, f"{HAPPY} ({i})")
    assert tasks.score_pending() == {"scored": 5, "unavailable": ""}
    assert not Response.objects.filter(scored_at__isnull=True).exists()


def test_a_rating_without_text_is_never_pending(answer, sentiment_model):
    answer(5, "")
    assert services.pending_response_ids() == []
    assert tasks.score_pending() == {"scored": 0, "unavailable": ""}


def test_without_a_model_answers_wait_for_the_next_run(answer):
    response = answer(2, ANGRY)
    result = tasks.score_pending()
    assert result["scored"] == 0 and result["unavailable"]
    assert services.pending_response_ids() == [response.pk]


def test_the_scoring_schedule_runs_every_survey_scoring_minutes(db, settings):
    settings.SURVEY_SCORING_MINUTES = 2
    tasks.ensure_schedules()
    tasks.ensure_schedules()
    schedule = Schedule.objects.get(name=tasks.SCORING_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "surveys.tasks.score_pending",
        Schedule.MINUTES,
        2,
        -1,
    )


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_scores_an_answer_on_its_schedule(cluster, answer, sentiment_model):
    """`manage.py qcluster` on the test database: its scheduler runs the scoring schedule
    (first look about 30 s after start), the worker loads the model and scores the answer."""
    response = answer(1, ANGRY)
    tasks.ensure_schedules()
    scored = Response.objects.filter(pk=response.pk, scored_at__isnull=False)
    cluster.wait_for(scored.exists, timeout=180)
    response.refresh_from_db()
    assert response.sentiment_label == "negative"
    assert response.sentiment_model == sentiment_model.version

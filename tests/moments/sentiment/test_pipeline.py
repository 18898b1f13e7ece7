"""The scoring pipeline: signal -> task -> model -> database, through the task functions."""

import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ

from customers import services as customer_services
from customers.models import Interaction
from moments.models import SentimentModel
from moments.sentiment import services, tasks
from moments.sentiment.classifier import Score
from tests.factories import InteractionFactory


def _log(customer, subject: str, body: str = "") -> Interaction:
    return customer_services.log_interaction(
        customer=customer, channel="email", subject=subject, body=body
    )


def test_logged_interaction_is_queued_after_commit(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        interaction = _log(customer, "Where is my parcel?")
    queued = [
        task
        for task in OrmQ.objects.all()
        if task.task["func"] == "moments.sentiment.tasks.score_interactions"
    ]
    assert len(queued) == 1
    assert queued[0].task["args"] == ([interaction.pk],)


def test_task_fills_the_sentiment_fields(customer, sentiment_model):
    angry = _log(customer, "Complaint", "This is unacceptable, I am furious and want a refund now!")
    thanks = _log(customer, "Thanks", "Thank you so much, you were wonderful and so helpful!")

    result = tasks.score_interactions([angry.pk, thanks.pk])

    assert result == {"scored": 2, "seen": 2, "unavailable": ""}
    angry.refresh_from_db()
    thanks.refresh_from_db()
    assert angry.sentiment_label == "negative"
    assert thanks.sentiment_label == "positive"
    assert angry.sentiment_score < 0 < thanks.sentiment_score
    assert 0 <= angry.sentiment_confidence <= 1
    assert angry.sentiment_model == sentiment_model.version
    assert angry.scored_at is not None


def test_retried_task_does_not_write_twice(customer, sentiment_model):
    interaction = _log(customer, "Thanks a lot, great help!")
    tasks.score_interactions([interaction.pk])
    interaction.refresh_from_db()
    first_scored_at = interaction.scored_at

    result = tasks.score_interactions([interaction.pk])

    assert result["scored"] == 0
    interaction.refresh_from_db()
    assert interaction.scored_at == first_scored_at


def test_newer_model_rescored_older_scores_but_older_never_overwrites_newer(
    customer, sentiment_model
):
    old = InteractionFactory(customer=customer, subject="Thanks!", body="")
    new = InteractionFactory(customer=customer, subject="Thanks!", body="")
    Interaction.objects.filter(pk=old.pk).update(
        sentiment_label="neutral",
        sentiment_score=0,
        sentiment_confidence=0.5,
        sentiment_model="20000101T000000Z-quick-minilm",
        scored_at=timezone.now(),
    )
    Interaction.objects.filter(pk=new.pk).update(
        sentiment_label="neutral",
        sentiment_score=0,
        sentiment_confidence=0.5,
        sentiment_model="99991231T000000Z-full-minilm",
        scored_at=timezone.now(),
    )

    tasks.score_interactions([old.pk, new.pk])

    old.refresh_from_db()
    new.refresh_from_db()
    assert old.sentiment_model == sentiment_model.version
    assert new.sentiment_model == "99991231T000000Z-full-minilm"


def test_without_a_model_interactions_stay_pending(customer, db):
    interaction = _log(customer, "Thanks a lot!")

    result = tasks.score_interactions([interaction.pk])

    assert result["scored"] == 0
    assert "no sentiment model is ready" in result["unavailable"]
    interaction.refresh_from_db()
    assert interaction.scored_at is None and interaction.sentiment_label == ""


def test_corrupt_active_model_is_marked_failed_and_nothing_is_written(
    customer, sentiment_model, tmp_path: Path
):
    broken_file = tmp_path / "model.pt"
    broken_file.write_bytes(b"\x00garbage")
    broken = SentimentModel.objects.create(
        kind="full",
        status="ready",
        version="99990101T000000Z-full-minilm",
        path=str(broken_file),
        activated_at=timezone.now(),
    )
    interaction = _log(customer, "Thanks a lot!")

    result = tasks.score_interactions([interaction.pk])

    assert "could not load" in result["unavailable"]
    broken.refresh_from_db()
    assert broken.status == SentimentModel.Status.FAILED
    assert broken.message.startswith("unavailable: could not load")
    interaction.refresh_from_db()
    assert interaction.scored_at is None
    # The previous ready model takes over on the next attempt.
    assert tasks.score_interactions([interaction.pk])["scored"] == 1


def test_sweep_scores_everything_pending(customer, sentiment_model):
    pending = [InteractionFactory(customer=customer) for _ in range(5)]

    run = services.score_pending(time_budget=60)

    assert run.scored == 5
    assert not Interaction.objects.filter(pk__in=[i.pk for i in pending], scored_at=None).exists()


def test_agent_correction_is_never_overwritten_by_rescoring(customer, sentiment_model, agent):
    interaction = _log(customer, "Thank you so much, wonderful!")
    services.correct_sentiment(interaction=interaction, label="negative", user=agent)

    tasks.score_interactions([interaction.pk])
    services.mark_for_rescoring()
    services.score_pending(time_budget=60)

    interaction.refresh_from_db()
    assert interaction.sentiment_label == "negative"
    assert interaction.sentiment_model == services.HUMAN_VERSION
    assert interaction.sentiment_correction.corrected_by == agent
    assert interaction.sentiment_correction.text == interaction.text


@pytest.mark.parametrize("label", ["angry", ""])
def test_correction_rejects_unknown_labels(customer, agent, label):
    from django.core.exceptions import ValidationError

    interaction = _log(customer, "Hello")
    with pytest.raises(ValidationError):
        services.correct_sentiment(interaction=interaction, label=label, user=agent)


def test_a_rescoring_is_announced_apart_from_first_scores(
    customer, sentiment_model, django_capture_on_commit_callbacks
):
    """The switch-over to a new model must be distinguishable: no real-time alert for it."""
    from moments.signals import interactions_scored

    fresh = InteractionFactory(customer=customer, subject="I am furious, where is my refund?")
    rescored = InteractionFactory(customer=customer, subject="Thanks, all good.")
    Interaction.objects.filter(pk=rescored.pk).update(
        sentiment_label="neutral",
        sentiment_score=0,
        sentiment_confidence=0.5,
        sentiment_model="20000101T000000Z-quick-minilm",
        scored_at=timezone.now(),
    )
    heard = []

    def listen(sender, interaction_ids, rescoring, **kwargs):
        heard.append((sorted(interaction_ids), rescoring))

    interactions_scored.connect(listen, dispatch_uid="test-rescoring")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.score_interactions([fresh.pk, rescored.pk])
    finally:
        interactions_scored.disconnect(dispatch_uid="test-rescoring")
    assert sorted(heard) == [([fresh.pk], False), ([rescored.pk], True)]


def _positive() -> Score:
    return Score.from_probabilities({"positive": 0.9, "neutral": 0.05, "negative": 0.05})


def test_a_batch_is_written_in_a_constant_number_of_queries(
    customer, sentiment_model, django_assert_max_num_queries
):
    ids = [InteractionFactory(customer=customer, subject="Thanks!", body="").pk for _ in range(50)]
    with django_assert_max_num_queries(8), transaction.atomic():  # 2 + savepoints
        written = services.write_scores(
            Interaction.objects.all(),
            version=sentiment_model.version,
            scores={pk: _positive() for pk in ids},
        )
    assert sorted(written) == ids
    assert set(Interaction.objects.values_list("sentiment_label", flat=True)) == {"positive"}


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_a_batch_write_each_row_once(customer, sentiment_model):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite serialises writers)")
    ids = [InteractionFactory(customer=customer, subject="Thanks!", body="").pk for _ in range(6)]
    version = sentiment_model.version
    holding, release, written = threading.Event(), threading.Event(), {}

    def other_worker():  # writes half the batch and holds its row locks until released
        try:
            with transaction.atomic():
                written["other"] = services.write_scores(
                    Interaction.objects.all(),
                    version=version,
                    scores={pk: _positive() for pk in ids[:3]},
                )
                holding.set()
                release.wait(20)
        finally:
            connection.close()

    def this_worker():  # reads all six as pending, then waits on the other's locks
        try:
            with transaction.atomic():
                written["this"] = services.write_scores(
                    Interaction.objects.all(),
                    version=version,
                    scores={pk: _positive() for pk in ids},
                )
        finally:
            connection.close()

    other = threading.Thread(target=other_worker)
    other.start()
    assert holding.wait(20)
    this = threading.Thread(target=this_worker)
    this.start()
    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the second worker never waited on the first one's rows")
    release.set()
    other.join(20)
    this.join(20)
    assert sorted(written["other"]) == ids[:3]
    assert sorted(written["this"]) == ids[3:]
    assert Interaction.objects.filter(pk__in=ids, sentiment_model=version).count() == 6

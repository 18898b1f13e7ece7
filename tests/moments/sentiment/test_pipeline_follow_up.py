"""What follows written scores (moment detection, rules) is queued with the scores: with the ORM
task queue, in the same transaction, so no crash between the commit and the queueing can lose
it (memorycrm/lib/queue.py; tests/faults/test_worker_kill.py kills a real worker there; with
Redis, an outbox: tests/test_outbox.py)."""

import pytest
from django.db import transaction
from django_q.models import OrmQ

from moments.sentiment import services
from moments.sentiment.classifier import Score
from tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db(transaction=True)

SCORE = Score.from_probabilities({"negative": 0.9, "neutral": 0.05, "positive": 0.05})


def queued() -> list[str]:
    return sorted(row.task["func"] for row in OrmQ.objects.all())


def test_the_follow_up_tasks_are_queued_inside_the_scoring_transaction(customer):
    interaction = InteractionFactory(customer=customer)
    OrmQ.objects.all().delete()
    with transaction.atomic():
        services.record_scores(version="v1", scores={interaction.pk: SCORE})
        # Before the commit, in the same transaction: the detection task is already a row.
        assert "moments.memory.tasks.detect_moments" in queued()
    assert "moments.memory.tasks.detect_moments" in queued()


def test_scores_rolled_back_leave_no_follow_up(customer):
    interaction = InteractionFactory(customer=customer)
    OrmQ.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record_scores(version="v1", scores={interaction.pk: SCORE})
        raise RuntimeError("the batch failed after the scores were written")
    assert queued() == []
    interaction.refresh_from_db()
    assert interaction.scored_at is None

"""With Redis as the task broker, the tasks that follow a write are rows of an outbox in the
write's transaction, relayed to Redis after the commit (memorycrm/lib/queue.py). Real Redis:
127.0.0.1:6379, its own db number."""

from __future__ import annotations

import pytest
import redis
from django.db import transaction
from django.test import override_settings
from django_q.models import Schedule
from django_q.signing import SignedPackage

from memorycrm import tasks
from memorycrm.lib import queue
from memorycrm.models import OutboxTask
from moments.sentiment import services
from moments.sentiment.classifier import Score
from tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "redis://127.0.0.1:6379/10"
SCORE = Score.from_probabilities({"negative": 0.9, "neutral": 0.05, "positive": 0.05})


@pytest.fixture
def broker(settings):
    """Redis as the broker, its queue empty; yields a function listing the queued funcs."""
    settings.Q_REDIS_URL = URL
    client = redis.Redis.from_url(URL)
    key = f"django_q:{settings.Q_CLUSTER['name']}:q"
    client.delete(key)

    def queued() -> list[str]:
        return [SignedPackage.loads(raw)["func"] for raw in client.lrange(key, 0, -1)]

    yield queued
    client.delete(key)
    client.close()


def test_the_follow_up_is_an_outbox_row_until_the_commit_then_queued_in_redis(broker, customer):
    interaction = InteractionFactory(customer=customer)
    with transaction.atomic():
        services.record_scores(version="v1", scores={interaction.pk: SCORE})
        outbox = list(OutboxTask.objects.values_list("func", flat=True))
        assert "moments.memory.tasks.detect_moments" in outbox
        assert broker() == []  # nothing reaches Redis before the commit
    assert "moments.memory.tasks.detect_moments" in broker()
    assert not OutboxTask.objects.exists()  # relayed, then deleted


def test_a_rolled_back_write_leaves_nothing_in_the_outbox_or_redis(broker, customer):
    interaction = InteractionFactory(customer=customer)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record_scores(version="v1", scores={interaction.pk: SCORE})
        raise RuntimeError("the batch failed after the scores were written")
    assert not OutboxTask.objects.exists()
    assert broker() == []


def test_rows_left_by_a_crash_after_the_commit_are_relayed_by_the_sweep(broker, db):
    # What a process killed between its commit and its relay leaves behind.
    OutboxTask.objects.create(
        func="moments.memory.tasks.detect_moments", args=[[1, 2]], options={"group": "memory"}
    )
    OutboxTask.objects.create(func="interventions.tasks.execute_intervention", args=[7])
    assert tasks.relay_outbox() == 2
    assert broker() == [
        "moments.memory.tasks.detect_moments",
        "interventions.tasks.execute_intervention",
    ]
    assert not OutboxTask.objects.exists()
    assert tasks.relay_outbox() == 0


def test_outside_a_transaction_a_task_goes_to_redis_at_once(broker, db):
    queue.enqueue("moments.sentiment.tasks.score_pending", group="sentiment")
    assert broker() == ["moments.sentiment.tasks.score_pending"]
    assert not OutboxTask.objects.exists()


def test_the_orm_broker_needs_no_outbox(settings, customer):
    settings.Q_REDIS_URL = ""
    interaction = InteractionFactory(customer=customer)
    with transaction.atomic():
        services.record_scores(version="v1", scores={interaction.pk: SCORE})
        assert not OutboxTask.objects.exists()  # the task row itself is in the transaction


@override_settings(Q_REDIS_URL=URL)
def test_the_relay_is_scheduled_every_minute_idempotently(db):
    tasks.ensure_outbox_schedule()
    tasks.ensure_outbox_schedule()
    (schedule,) = Schedule.objects.filter(name=tasks.RELAY_NAME)
    assert (schedule.func, schedule.minutes, schedule.repeats) == (
        "memorycrm.tasks.relay_outbox",
        1,
        -1,
    )

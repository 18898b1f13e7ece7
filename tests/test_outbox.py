"""With Redis as the task broker, the tasks that follow a write are rows of an outbox in the
write's transaction, relayed to Redis after the commit and leased; the worker deletes a row when
its task has finished, and the sweep queues again a row whose lease ran out (its worker died)
(memorycrm/lib/queue.py). Real Redis: 127.0.0.1:6379, its own db number."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.signing import SignedPackage

from memorycrm import tasks
from memorycrm.lib import queue
from memorycrm.models import OutboxTask
from moments.sentiment import services
from moments.sentiment.classifier import Score
from tests.factories import InteractionFactory

# One test process at a time uses Redis database 10 (CI runs two: pytest-xdist --dist loadgroup).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("redis-10")]

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
        """The tasks in Redis, by the outbox rows they run."""
        funcs = []
        for raw in client.lrange(key, 0, -1):
            package = SignedPackage.loads(raw)
            assert package["func"] == queue.RUN_OUTBOXED
            row = OutboxTask.objects.filter(pk=package["args"][0]).first()
            funcs.append(row.func if row else "gone")
        return funcs

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
    # Relayed and leased: the row stays until a worker has run its task.
    assert not OutboxTask.objects.filter(leased_until__isnull=True).exists()


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
    assert tasks.relay_outbox() == 0  # leased: in Redis, not lost


def test_outside_a_transaction_a_task_goes_to_redis_at_once(broker, db):
    queue.enqueue("moments.sentiment.tasks.score_pending", group="sentiment")
    assert broker() == ["moments.sentiment.tasks.score_pending"]
    assert OutboxTask.objects.get().leased_until is not None


def test_the_worker_deletes_the_row_when_the_task_has_run_and_a_second_copy_does_nothing(
    broker, customer
):
    interaction = InteractionFactory(customer=customer)
    queue.enqueue("moments.sentiment.tasks.score_interactions", [interaction.pk])
    (row,) = OutboxTask.objects.all()
    assert queue.run_outboxed(row.pk)["scored"] == 0  # the body ran (no model: nothing to do)
    assert not OutboxTask.objects.filter(pk=row.pk).exists()  # acknowledged
    assert queue.run_outboxed(row.pk) is None  # a copy queued again: nothing to do


def test_a_row_whose_worker_died_is_queued_again_once_its_lease_has_run_out(broker, db, settings):
    settings.OUTBOX_LEASE_SECONDS = 60
    queue.enqueue("interventions.tasks.execute_intervention", 7)
    assert len(broker()) == 1
    # A worker popped it and was SIGKILLed: Redis no longer has it, the row is still leased.
    redis.Redis.from_url(URL).delete(f"django_q:{settings.Q_CLUSTER['name']}:q")
    assert tasks.relay_outbox() == 0  # within its lease: it may still be running
    OutboxTask.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert tasks.relay_outbox() == 1
    assert broker() == ["interventions.tasks.execute_intervention"]


def test_a_task_that_raises_is_acknowledged_and_the_error_reaches_django_q(broker, db):
    queue.enqueue("memorycrm.lib.queue.no_such_task")
    (row,) = OutboxTask.objects.all()
    with pytest.raises(ImportError):
        queue.run_outboxed(row.pk)
    assert not OutboxTask.objects.exists()


def test_a_task_that_killed_its_worker_every_time_is_dropped(broker, db, settings):
    queue.enqueue("interventions.tasks.execute_intervention", 7)
    (row,) = OutboxTask.objects.all()
    OutboxTask.objects.update(attempts=settings.Q_CLUSTER["max_attempts"])
    assert queue.run_outboxed(row.pk) is None
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

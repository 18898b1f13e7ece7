"""Queueing the follow-up of a write so that a crash cannot lose it (a transactional outbox).

`transaction.on_commit(async_task)` has a window: the work commits, then the process dies (a
SIGKILL, the OOM killer, a deploy) before the task is queued, and nothing will ever announce
that work again. So every task is queued through `enqueue`, which inside a transaction makes
the task part of it:

- with django-q2's ORM broker on the same database (the default, `Q_CLUSTER["orm"]`) the queue
  is a table: the task row commits or rolls back with the work, and workers see it only after
  the commit;
- with Redis (`Q_REDIS_URL`) it writes an `OutboxTask` row instead, and after the commit the
  relay pushes the rows it wrote to Redis and leases them (`OUTBOX_LEASE_SECONDS`). What Redis
  carries is `run_outboxed(row id)`: the worker runs the task body, then deletes the row (its
  acknowledgement). django-q2's Redis broker has no lease of its own: a task popped by a worker
  (or prefetched by its cluster) that is SIGKILLed is gone from Redis. Its row is not; the sweep
  (`relay_outbox`, every minute) pushes every row never relayed (a crash before the relay) or
  whose lease ran out (a crash after it) again. A task may so run twice, and a copy still
  waiting in Redis when its row was pushed again finds the row gone and does nothing; task
  bodies are idempotent (they check state, and side effects are keyed under unique
  constraints).

Outside a transaction there is nothing to wait for: the task is queued at once (with Redis,
through an outbox row all the same, for the lease).
`queue_with(callback)` runs a callback that queues tasks (a signal's receivers) as part of the
current transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.tasks import async_task

from memorycrm.models import OutboxTask

logger = logging.getLogger(__name__)

RELAY_BATCH = 500


def enqueue(func: str, *args, **options) -> None:
    """Queue task ``func`` (a dotted path) with ``args`` and django-q2 ``options`` (group,
    task_name, timeout), as part of the current transaction if there is one."""
    if not settings.Q_REDIS_URL:
        async_task(func, *args, **options)  # the ORM broker: the queue is in the transaction
        return
    row = OutboxTask.objects.create(func=func, args=list(args), options=options)
    if transaction.get_autocommit():
        relay(ids=[row.pk])
    else:
        transaction.on_commit(lambda: relay(ids=[row.pk]))


def queue_with(callback: Callable[[], object], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `callback`, which queues tasks through `enqueue`, as part of the current
    transaction: its tasks commit or roll back with the work they follow."""
    del using  # every broker is transactional through `enqueue` now
    callback()


def _lease() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def relay(*, ids: list[int] | None = None, limit: int = RELAY_BATCH) -> int:
    """Push committed outbox rows (these ``ids``, or the oldest ``limit``) that are not
    relayed yet or whose lease ran out to Redis, and lease them; returns how many. Rows another
    relay is moving are skipped, not waited for."""
    now = timezone.now()
    with transaction.atomic():
        pending = (
            OutboxTask.objects.select_for_update(skip_locked=True)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .order_by("pk")
        )
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        rows = list(pending[:limit])
        if not rows:
            return 0
        broker = _broker()
        for row in rows:
            options = {"task_name": f"{row.func} (outbox #{row.pk})", **row.options}
            async_task(RUN_OUTBOXED, row.pk, broker=broker, **options)
        OutboxTask.objects.filter(pk__in=[row.pk for row in rows]).update(
            leased_until=now + _lease()
        )
    return len(rows)


RUN_OUTBOXED = "memorycrm.lib.queue.run_outboxed"


def run_outboxed(row_id: int):
    """In the worker: run the task of outbox row ``row_id``, then delete the row. A row gone
    means its task has finished already (this is a second copy): nothing to do. A task that
    raises is acknowledged too (django-q2 records the failure; ``ack_failures``); one that
    killed its worker ``Q_MAX_ATTEMPTS`` times is dropped with an error."""
    rows = OutboxTask.objects.filter(pk=row_id)
    row = rows.first()
    if row is None:
        return None
    if row.attempts >= settings.Q_CLUSTER["max_attempts"]:
        logger.error("Outbox: %s started %d times without finishing; dropped", row, row.attempts)
        rows.delete()
        return None
    rows.update(leased_until=timezone.now() + _lease(), attempts=F("attempts") + 1)
    try:
        return import_string(row.func)(*row.args)
    finally:
        rows.delete()


def relay_all() -> int:
    """The sweep: relay everything left behind by a crash (never relayed, or lease run out),
    in batches."""
    total = 0
    while moved := relay():
        total += moved
    if total:
        logger.warning("Outbox: relayed %d tasks left behind by a crash", total)
    return total


class _Redis(RedisBroker):
    """django-q2's Redis broker on `settings.Q_REDIS_URL` as it is now (django-q2 reads its
    configuration once, at import)."""

    @staticmethod
    def get_connection(list_key: str | None = None) -> redis.Redis:
        return redis.Redis.from_url(settings.Q_REDIS_URL)


_brokers: dict[str, _Redis] = {}


def _broker() -> _Redis | None:
    """The broker to queue on: None (django-q2's own) unless Redis is configured; one per
    URL and process (each holds a connection pool)."""
    url = settings.Q_REDIS_URL
    if not url:
        return None
    if url not in _brokers:
        _brokers[url] = _Redis(list_key=settings.Q_CLUSTER["name"])
    return _brokers[url]

"""Queueing the follow-up of a write so that a crash cannot lose it (a transactional outbox).

`transaction.on_commit(async_task)` has a window: the work commits, then the process dies (a
SIGKILL, the OOM killer, a deploy) before the task is queued, and nothing will ever announce
that work again. So every task is queued through `enqueue`, which inside a transaction makes
the task part of it:

- with django-q2's ORM broker on the same database (the default, `Q_CLUSTER["orm"]`) the queue
  is a table: the task row commits or rolls back with the work, and workers see it only after
  the commit;
- with Redis (`Q_REDIS_URL`) it writes an `OutboxTask` row instead, and after the commit the
  relay moves the rows it wrote to Redis and deletes them. A crash before the relay leaves the
  rows for the sweep (`relay_outbox`, every minute); a crash between pushing to Redis and
  deleting the rows queues those tasks again, which is harmless: tasks are idempotent (they
  check state, and side effects are keyed under unique constraints).

Outside a transaction there is nothing to wait for: the task is queued at once.
`queue_with(callback)` runs a callback that queues tasks (a signal's receivers) as part of the
current transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.tasks import async_task

from memorycrm.models import OutboxTask

logger = logging.getLogger(__name__)

RELAY_BATCH = 500


def enqueue(func: str, *args, **options) -> None:
    """Queue task ``func`` (a dotted path) with ``args`` and django-q2 ``options`` (group,
    task_name, timeout), as part of the current transaction if there is one."""
    if not settings.Q_REDIS_URL or transaction.get_autocommit():
        async_task(func, *args, broker=_broker(), **options)
        return
    row = OutboxTask.objects.create(func=func, args=list(args), options=options)
    transaction.on_commit(lambda: relay(ids=[row.pk]))


def queue_with(callback: Callable[[], object], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `callback`, which queues tasks through `enqueue`, as part of the current
    transaction: its tasks commit or roll back with the work they follow."""
    del using  # every broker is transactional through `enqueue` now
    callback()


def relay(*, ids: list[int] | None = None, limit: int = RELAY_BATCH) -> int:
    """Move committed outbox rows (these ``ids``, or the oldest ``limit``) to the broker and
    delete them; returns how many. Rows another relay is moving are skipped, not waited for."""
    with transaction.atomic():
        rows = OutboxTask.objects.select_for_update(skip_locked=True).order_by("pk")
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        rows = list(rows[:limit])
        if not rows:
            return 0
        broker = _broker()
        for row in rows:
            async_task(row.func, *row.args, broker=broker, **row.options)
        OutboxTask.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return len(rows)


def relay_all() -> int:
    """The sweep: relay everything left behind by a crash, in batches."""
    total = 0
    while moved := relay():
        total += moved
    if total:
        logger.warning("Outbox: relayed %d tasks left behind after a commit", total)
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

"""Queueing the follow-up of a write so that a crash cannot lose it.

`transaction.on_commit(enqueue)` has a window: the work commits, then the process dies (a
SIGKILL, the OOM killer, a deploy) before `enqueue` has queued its task, and nothing will
ever announce that work again. With django-q2's ORM broker on the same database (the default:
`Q_CLUSTER["orm"]`), the queue is a table, so `queue_with(callback)` inside a transaction runs
the callback at once: its task rows commit or roll back with the work they follow, and workers
see them only after the commit. With another broker (Redis), or outside a transaction, it falls
back to `on_commit`, and the window is back (the sweeps catch up where they exist).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction


def queue_with(callback: Callable[[], object], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `callback`, which queues tasks, as part of the current transaction when the queue
    lives in it; else after commit."""
    if in_queue_transaction(using):
        callback()
    else:
        transaction.on_commit(callback, using=using)


def in_queue_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True inside a transaction on the database that holds the task queue."""
    return settings.Q_CLUSTER.get("orm") == using and not transaction.get_autocommit(using)

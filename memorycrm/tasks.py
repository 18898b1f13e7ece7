"""The project's own django-q2 tasks."""

from __future__ import annotations

from memorycrm.lib import queue
from memorycrm.lib.schedules import ensure_schedule

RELAY_NAME = "memorycrm-relay-outbox"


def relay_outbox() -> int:
    """Every minute: queue what a crash left in the outbox (memorycrm/lib/queue.py)."""
    return queue.relay_all()


def ensure_outbox_schedule() -> None:
    """Idempotent: the sweep of the outbox, every minute (a no-op on the ORM broker)."""
    ensure_schedule(RELAY_NAME, "memorycrm.tasks.relay_outbox", minutes=1)

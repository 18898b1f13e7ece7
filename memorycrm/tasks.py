"""The project's own django-q2 tasks."""

from __future__ import annotations

from django_q.models import Schedule

from memorycrm.lib import queue

RELAY_NAME = "memorycrm-relay-outbox"


def relay_outbox() -> int:
    """Every minute: queue what a crash left in the outbox (memorycrm/lib/queue.py)."""
    return queue.relay_all()


def ensure_outbox_schedule() -> None:
    """Idempotent: the sweep of the outbox, every minute (a no-op on the ORM broker)."""
    Schedule.objects.update_or_create(
        name=RELAY_NAME,
        defaults={
            "func": "memorycrm.tasks.relay_outbox",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )

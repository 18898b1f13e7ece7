"""django-q2 tasks for memory moments: take ids, call a service (queued by moments.enqueue)."""

from __future__ import annotations

from django.conf import settings

from memorycrm.lib.schedules import ensure_schedule
from moments.memory import recall, services

REFRESH_NAME = "memory-refresh"


def detect_moments(interaction_ids: list[int]) -> dict:
    moments = services.detect_moments(interaction_ids=interaction_ids)
    return {"moments": len(moments)}


def refresh_all_memory() -> dict:
    """Scheduled: recall fades with time, so balances, "at risk" and the journey rollup are
    recomputed daily."""
    return {"customers": recall.refresh_all_memory()}


def ensure_refresh_schedule() -> None:
    """Idempotent: the periodic refresh of every customer's recall and balance."""
    ensure_schedule(
        REFRESH_NAME,
        "moments.memory.tasks.refresh_all_memory",
        minutes=settings.MEMORY_REFRESH_HOURS * 60,
    )

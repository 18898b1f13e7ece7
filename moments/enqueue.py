"""Queueing the moments app's django-q2 tasks, by their dotted path.

The task bodies (tasks modules) call the services; what queues them (services, receivers, the
admin, commands) imports this module instead, so nothing imports a task body but the worker:
no services <-> tasks cycle. Each helper queues at once; a caller that has just written defers
it to the commit itself (``memorycrm.lib.queue.queue_with`` or ``transaction.on_commit``).
"""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task

# --- Sentiment ----------------------------------------------------------------------------


def score_interactions(interaction_ids: list[int]) -> None:
    """Scoring for new interactions, in chunks (a CSV import sends thousands of ids)."""
    chunk = settings.SENTIMENT_TASK_CHUNK
    for start in range(0, len(interaction_ids), chunk):
        async_task(
            "moments.sentiment.tasks.score_interactions",
            interaction_ids[start : start + chunk],
            group="sentiment",
        )


def score_pending() -> None:
    """The sweep over everything pending or scored by an older model."""
    async_task("moments.sentiment.tasks.score_pending", group="sentiment")


def train_model(model_id: int, then_full: bool = False) -> None:
    async_task(
        "moments.sentiment.tasks.train_model",
        model_id,
        then_full,
        group="sentiment-training",
        timeout=settings.Q_CLUSTER.get("timeout"),
    )


# --- Memory moments -----------------------------------------------------------------------


def detect_moments(interaction_ids: list[int]) -> None:
    async_task("moments.memory.tasks.detect_moments", list(interaction_ids), group="memory")

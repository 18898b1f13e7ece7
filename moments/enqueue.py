"""Queueing the moments app's django-q2 tasks, by their dotted path.

The task bodies (tasks modules) call the services; what queues them (services, receivers, the
admin, commands) imports this module instead, so nothing imports a task body but the worker:
no services <-> tasks cycle. Each helper queues through ``memorycrm.lib.queue.enqueue``:
inside a transaction, as part of it (the task row, or an outbox row with Redis).
"""

from __future__ import annotations

from django.conf import settings

from memorycrm.lib.queue import enqueue

# --- Sentiment ----------------------------------------------------------------------------


def score_interactions(interaction_ids: list[int]) -> None:
    """Scoring for new interactions, in chunks (a CSV import sends thousands of ids)."""
    chunk = settings.SENTIMENT_TASK_CHUNK
    for start in range(0, len(interaction_ids), chunk):
        enqueue(
            "moments.sentiment.tasks.score_interactions",
            interaction_ids[start : start + chunk],
            group="sentiment",
        )


def score_request(request_id: str) -> None:
    """An API client's ad-hoc texts (moments.models.ScoringRequest)."""
    enqueue("moments.sentiment.tasks.score_request", request_id, group="sentiment-api")


def score_pending() -> None:
    """The sweep over everything pending or scored by an older model."""
    enqueue("moments.sentiment.tasks.score_pending", group="sentiment")


def train_model(model_id: int, then_full: bool = False) -> None:
    enqueue(
        "moments.sentiment.tasks.train_model",
        model_id,
        then_full,
        group="sentiment-training",
        timeout=settings.Q_CLUSTER.get("timeout"),
    )


# --- Memory moments -----------------------------------------------------------------------


def detect_moments(interaction_ids: list[int]) -> None:
    enqueue("moments.memory.tasks.detect_moments", list(interaction_ids), group="memory")


def refresh_all_memory() -> None:
    """Every customer's recall and balance recomputed (after the parameters in use change)."""
    enqueue("moments.memory.tasks.refresh_all_memory", group="memory")

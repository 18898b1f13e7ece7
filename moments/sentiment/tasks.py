"""django-q2 tasks of sentiment: take ids, load, call a service (queued by moments.enqueue)."""

from __future__ import annotations

import logging

from django.conf import settings

from memorycrm.lib.schedules import ensure_schedule
from moments import enqueue
from moments.models import SentimentModel
from moments.sentiment import services

logger = logging.getLogger(__name__)

SWEEP_NAME = "sentiment-sweep"


def score_interactions(interaction_ids: list[int]) -> dict:
    return services.score_interactions(ids=interaction_ids).as_dict()


def score_request(request_id: str) -> str:
    scoring = services.score_request(request_id=request_id)
    return scoring.status if scoring else "gone"


def score_pending() -> dict:
    """The sweep (scheduled, and queued when a model becomes ready). If it ran out of time
    with work left, it queues itself again rather than holding a worker for hours."""
    run = services.score_pending(time_budget=300)
    if run.scored and not run.unavailable:
        enqueue.score_pending()  # more may be left; stops once a run writes nothing
    return run.as_dict()


def train_model(model_id: int, then_full: bool = False) -> dict:
    """Train one model. On success everything pending or scored by an older model is queued
    for (re)scoring; the first run then queues the fine-tuned model."""
    model = SentimentModel.objects.get(pk=model_id)
    if model.status not in (SentimentModel.Status.QUEUED, SentimentModel.Status.TRAINING):
        return {"skipped": f"run {model_id} is {model.status}"}  # a duplicate delivery
    model = services.train_sentiment_model(model=model)
    if model.status == SentimentModel.Status.READY:
        enqueue.score_pending()
        if then_full:
            full = services.create_training_run(kind=SentimentModel.Kind.FULL)
            enqueue.train_model(full.pk)
    return {"status": model.status, "version": model.version, "message": model.message}


def ensure_sweep_schedule() -> None:
    """Idempotent: the periodic sweep that picks up anything still pending."""
    ensure_schedule(
        SWEEP_NAME,
        "moments.sentiment.tasks.score_pending",
        minutes=settings.SENTIMENT_SWEEP_MINUTES,
    )

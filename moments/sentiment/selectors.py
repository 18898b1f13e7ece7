"""Reads for sentiment: which model is active, the status agents see, a customer's series."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.models import Customer, Interaction
from moments.models import ScoringRequest, SentimentCorrection, SentimentModel
from moments.sentiment.data import Example

# A training row whose heartbeat is older than this lost its worker (killed, recycled, crashed).
STALE_TRAINING = timedelta(minutes=15)


def active_sentiment_model() -> SentimentModel | None:
    return (
        SentimentModel.objects.filter(status=SentimentModel.Status.READY)
        .exclude(path="")
        .order_by("-activated_at", "-id")
        .first()
    )


def training_in_progress() -> QuerySet[SentimentModel]:
    """Queued or training rows whose worker is still alive (recent heartbeat)."""
    return SentimentModel.objects.filter(
        status__in=[SentimentModel.Status.QUEUED, SentimentModel.Status.TRAINING],
        updated_at__gte=timezone.now() - STALE_TRAINING,
    )


def interactions_to_score(*, version: str | None) -> QuerySet[Interaction]:
    """Pending interactions, plus (given the active version) those scored by an older model.

    Versions start with a UTC timestamp, so "older" is a string comparison. Interactions an
    agent corrected are never rescored: the human label stands. Only the customer's own words
    (``customer_words``): an agent's reply or internal note is never scored.
    """
    condition = Q(scored_at__isnull=True)
    if version:
        condition |= Q(sentiment_model__lt=version)
    return (
        Interaction.objects.customer_words()
        .filter(condition)
        .filter(sentiment_correction__isnull=True)
    )


@dataclass
class SentimentStatus:
    state: str  # ready | training | unavailable | failed
    active: SentimentModel | None
    training: SentimentModel | None
    last_failure: SentimentModel | None
    pending: int
    history: list[SentimentModel] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.state == "ready" and self.training:
            return f"Ready; a better model is {self.training.get_status_display().lower()}."
        if self.state == "ready":
            return "Ready."
        if self.state == "training":
            return "No model yet: training; interactions stay pending until it is ready."
        if self.state == "failed":
            return f"Training failed: {self.last_failure.message if self.last_failure else '?'}"
        return "No sentiment model. Run `manage.py ensure_sentiment_model` or train_sentiment."


def sentiment_status(*, history: int = 10) -> SentimentStatus:
    active = active_sentiment_model()
    training = training_in_progress().order_by("-created_at").first()
    last_failure = SentimentModel.objects.filter(status=SentimentModel.Status.FAILED).first()
    if active is not None:
        state = "ready"
    elif training is not None:
        state = "training"
    elif last_failure is not None:
        state = "failed"
    else:
        state = "unavailable"
    return SentimentStatus(
        state=state,
        active=active,
        training=training,
        last_failure=last_failure,
        pending=Interaction.objects.sentiment_pending().count(),
        history=list(SentimentModel.objects.all()[:history]),
    )


@dataclass(frozen=True)
class Point:
    interaction_id: int
    occurred_at: object
    score: float
    label: str
    is_spike: bool


def sentiment_series(customer: Customer, *, limit: int = 200) -> list[Point]:
    """The customer's scored interactions (oldest first, latest ``limit``) with spikes marked.

    A spike is a point far from the customer's own baseline: |score - mean| >= max(0.5, 1.5 sd)
    over the points shown, so a habitually grumpy customer's usual tone is not a spike. Only
    the customer's own words: an agent's note never moves the customer's line.
    """
    rows = list(
        customer.interactions.customer_words()
        .filter(scored_at__isnull=False)
        .order_by("-occurred_at", "-id")
        .values_list("id", "occurred_at", "sentiment_score", "sentiment_label")[:limit]
    )
    rows.reverse()
    # Every writer sets the score with scored_at, so this drops nothing; it narrows the type.
    scored = [(pk, at, score, label) for pk, at, score, label in rows if score is not None]
    scores = [score for _, _, score, _ in scored]
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    sd = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    threshold = max(0.5, 1.5 * sd)
    return [
        Point(pk, occurred_at, score, label, abs(score - mean) >= threshold)
        for pk, occurred_at, score, label in scored
    ]


def correction_examples(*, seed: int) -> tuple[list[Example], list[Example]]:
    """Agents' corrections as examples: a seeded 80/20 split into training and a held-out
    set that measures the model on this company's own language (before and after)."""
    rows = list(SentimentCorrection.objects.order_by("pk").values_list("pk", "text", "label"))
    examples = [Example(text, label, "corrections", f"correction:{pk}") for pk, text, label in rows]
    random.Random(seed).shuffle(examples)
    if len(examples) < 10:  # too few to hold any out meaningfully: all go to training
        return examples, []
    cut = len(examples) // 5
    return examples[cut:], examples[:cut]


def wait_for_scoring(request_id, *, seconds: float, interval: float = 0.05) -> ScoringRequest:
    """The scoring request, once a worker has finished it or after ``seconds`` (the bounded
    wait of POST /api/v1/sentiment/), whichever comes first."""
    deadline = time.monotonic() + seconds
    while True:
        scoring = ScoringRequest.objects.get(pk=request_id)
        if scoring.status != ScoringRequest.Status.QUEUED or time.monotonic() >= deadline:
            return scoring
        time.sleep(interval)

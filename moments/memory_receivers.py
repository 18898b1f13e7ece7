"""Reactions to the sentiment pipeline. Thin: hand the ids to a task (never detect inside the
request or the scoring transaction)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from moments.memory_tasks import enqueue_detection
from moments.models import SentimentCorrection
from moments.signals import interactions_scored


@receiver(interactions_scored, dispatch_uid="moments.detect_moments_after_scoring")
def detect_after_scoring(sender, interaction_ids: list[int], **kwargs) -> None:
    if interaction_ids:
        enqueue_detection(list(interaction_ids))


@receiver(post_save, sender=SentimentCorrection, dispatch_uid="moments.detect_after_correction")
def detect_after_correction(sender, instance: SentimentCorrection, **kwargs) -> None:
    # An agent's correction rewrites the score outside the scoring service: detect again (and
    # so recompute the moment's polarity and impact) once it is committed.
    interaction_id = instance.interaction_id
    transaction.on_commit(lambda: enqueue_detection([interaction_id]))

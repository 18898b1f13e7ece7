"""Reactions to the sentiment pipeline (thin: hand the ids to a task, never detect inside the
request or the scoring transaction), and to deleted moments (their journey rollup days)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from moments import enqueue
from moments.memory import rollup
from moments.models import Moment, SentimentCorrection
from moments.signals import interactions_scored


@receiver(interactions_scored, dispatch_uid="moments.detect_moments_after_scoring")
def detect_after_scoring(sender, interaction_ids: list[int], **kwargs) -> None:
    if interaction_ids:
        enqueue.detect_moments(list(interaction_ids))


@receiver(post_save, sender=SentimentCorrection, dispatch_uid="moments.detect_after_correction")
def detect_after_correction(sender, instance: SentimentCorrection, **kwargs) -> None:
    # An agent's correction rewrites the score outside the scoring service: detect again (and
    # so recompute the moment's polarity and impact) once it is committed.
    interaction_id = instance.interaction_id
    transaction.on_commit(lambda: enqueue.detect_moments([interaction_id]))


@receiver(post_delete, sender=Moment, dispatch_uid="moments.rollup_after_moment_deleted")
def rollup_after_moment_deleted(sender, instance: Moment, using: str, **kwargs) -> None:
    # Moments go without a service when their customer, interaction or survey answer is deleted
    # (a cascade, maybe of thousands): recompute their days once, after the deletion commits.
    day = rollup.local_day(instance.occurred_at)
    rollup.refresh_days_on_commit([day], using=using)

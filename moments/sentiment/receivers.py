"""Reactions to other apps' events. Thin: hand the ids to a task."""

from __future__ import annotations

from django.dispatch import receiver

from customers.signals import interactions_logged
from moments import enqueue


@receiver(interactions_logged, dispatch_uid="moments.score_logged_interactions")
def score_logged_interactions(sender, interaction_ids: list[int], **kwargs) -> None:
    # Sent after commit by every write path (form, API, CSV import): the rows exist.
    enqueue.score_interactions(list(interaction_ids))

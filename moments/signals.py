"""Events the moments app announces, sent after the transaction commits. Apps to the right
(surveys, interventions) listen. Receivers get ids, never model instances."""

import django.dispatch

# kwargs: interaction_ids: list[int]. Sent by the scoring service once scores are written.
interactions_scored = django.dispatch.Signal()

# kwargs: moment_ids: list[int]. Sent when moments are created (detected or promoted).
moments_created = django.dispatch.Signal()

# kwargs: moment_id: int, tags: list[str] (the slugs just added). Sent when an agent adds tags
# to a live moment that already existed (page, API): a tag added later counts as if the moment
# had been created with it.
moment_tagged = django.dispatch.Signal()

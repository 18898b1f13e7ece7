"""Events the moments app announces. Apps to the right (surveys, interventions) listen.
Receivers get ids, never model instances.

They are sent once the transaction's work is safe to announce: after commit, or, with the ORM
task queue, inside the transaction (memorycrm.lib.queue), so that the tasks receivers queue
commit with the work. So a receiver only queues tasks (or reads), never acts outside the
database itself (no email, no webhook)."""

import django.dispatch

# kwargs: interaction_ids: list[int], rescoring: bool. Sent by the scoring service once scores
# are written. rescoring=True: the rows already had a score and a newer model replaced it (the
# switch-over after training, `rescore`): not a new event, so no real-time alert or email.
interactions_scored = django.dispatch.Signal()

# kwargs: moment_ids: list[int]. Sent when moments are created (detected or promoted).
moments_created = django.dispatch.Signal()

# kwargs: moment_id: int, tags: list[str] (the slugs just added). Sent when an agent adds tags
# to a live moment that already existed (page, API): a tag added later counts as if the moment
# had been created with it.
moment_tagged = django.dispatch.Signal()

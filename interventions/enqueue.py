"""Queueing the interventions app's django-q2 tasks, by their dotted path.

The task bodies (interventions/tasks.py) call the engine; the engine, the services and the
receivers queue through this module, so none of them imports the task bodies: no cycle. Each
helper queues through ``memorycrm.lib.queue.enqueue``: inside a transaction, as part of it
(the task row, or an outbox row with Redis).
"""

from __future__ import annotations

from django.conf import settings

from memorycrm.lib.queue import enqueue


def execute_intervention(intervention_id: int) -> None:
    enqueue("interventions.tasks.execute_intervention", intervention_id, group="interventions")


def fire_events(event: str, model: str, ids: list[int], *, quiet: bool = False) -> None:
    """Fire ``event`` for the subjects (model "app_label.Model"), in chunks. ``quiet``: not
    news (a rescoring), no real-time action."""
    chunk = settings.INTERVENTIONS_EVENT_CHUNK
    extra = (True,) if quiet else ()  # a task argument, not a queue option
    for start in range(0, len(ids), chunk):
        enqueue(
            "interventions.tasks.fire_events",
            event,
            model,
            ids[start : start + chunk],
            *extra,
            group="interventions",
        )

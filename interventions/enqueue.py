"""Queueing the interventions app's django-q2 tasks, by their dotted path.

The task bodies (interventions/tasks.py) call the engine; the engine, the services and the
receivers queue through this module, so none of them imports the task bodies: no cycle. Each
helper queues at once; a caller that has just written defers it to the commit itself.
"""

from __future__ import annotations

from django.conf import settings
from django_q.tasks import async_task


def execute_intervention(intervention_id: int) -> None:
    async_task("interventions.tasks.execute_intervention", intervention_id, group="interventions")


def fire_events(event: str, model: str, ids: list[int]) -> None:
    """Fire ``event`` for the subjects (model "app_label.Model"), in chunks."""
    chunk = settings.INTERVENTIONS_EVENT_CHUNK
    for start in range(0, len(ids), chunk):
        async_task(
            "interventions.tasks.fire_events",
            event,
            model,
            ids[start : start + chunk],
            group="interventions",
        )

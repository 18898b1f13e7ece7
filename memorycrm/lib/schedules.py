"""The one way a task gets a django-q2 schedule: by name, idempotently (each app's
`ensure_*schedule*` runs on every start and deploy, and changes a schedule already stored to what
the settings say now)."""

from __future__ import annotations

from django_q.models import Schedule


def ensure_schedule(
    name: str, func: str, schedule_type: str = Schedule.MINUTES, *, minutes: int | None = None
) -> Schedule:
    """Store or update the schedule `name`: run `func` (a dotted path) forever, every `minutes`
    (schedule_type MINUTES) or on django-q2's DAILY, WEEKLY… cycle."""
    defaults: dict[str, object] = {"func": func, "schedule_type": schedule_type, "repeats": -1}
    if minutes is not None:
        defaults["minutes"] = minutes
    schedule, _ = Schedule.objects.update_or_create(name=name, defaults=defaults)
    return schedule

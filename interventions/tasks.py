"""django-q2 tasks: take ids, load, call the engine (queued by interventions.enqueue)."""

from __future__ import annotations

from django.apps import apps
from django.utils import timezone
from django_q.models import Schedule

from customers.models import Customer, Interaction
from interventions import conditions as cond
from interventions import engine
from memorycrm.lib.schedules import ensure_schedule
from moments.models import CustomerMemory

DISPATCH_SCHEDULE = "interventions-dispatch-due"
DAILY_SCHEDULE = "interventions-daily-events"


def execute_intervention(intervention_id: int) -> str:
    return engine.execute(intervention_id)


def dispatch_due() -> dict:
    return engine.dispatch_due()


def fire_events(event: str, model: str, ids: list[int], quiet: bool = False) -> int:
    """Fire `event` for each subject (model "app_label.Model") that still exists, then run the
    interventions that are due now right here: this is a worker already, and a frustration
    alert should not wait for another trip through the queue."""
    Model = apps.get_model(model)
    created = []
    for subject in Model.objects.filter(pk__in=ids).order_by("pk"):
        created += engine.fire_event(event=event, subject=subject, enqueue=False, quiet=quiet)
        if event == cond.INTERACTION_LOGGED:
            created += _stage_reached(subject)
    now = timezone.now()
    for intervention in created:
        if intervention.scheduled_for <= now:
            engine.execute(intervention.pk)
    return len(created)


def _stage_reached(interaction) -> list:
    """stage.reached: the interaction is in a stage the customer's previous one was not in."""
    if interaction.stage_id is None or not engine.has_rules(cond.STAGE_REACHED):
        return []
    previous = (
        type(interaction)
        .objects.filter(customer_id=interaction.customer_id)
        .filter(occurred_at__lte=interaction.occurred_at)
        .exclude(pk=interaction.pk)
        .order_by("-occurred_at", "-id")
        .values_list("stage_id", flat=True)
        .first()
    )
    if previous == interaction.stage_id:
        return []
    return engine.fire_event(
        event=cond.STAGE_REACHED,
        subject=interaction,
        payload={"stage": interaction.stage.slug},
        enqueue=False,
    )


def daily_events() -> dict:
    """The daily schedule: `memory.at_risk` for every customer whose memory is at risk, and
    `schedule.daily` for every customer whose latest contact is an unanswered inbound one."""
    counts = {cond.MEMORY_AT_RISK: 0, cond.DAILY: 0}
    if engine.has_rules(cond.MEMORY_AT_RISK):
        at_risk = CustomerMemory.objects.filter(at_risk=True).values_list("customer_id", flat=True)
        for customer in Customer.objects.filter(pk__in=at_risk).iterator(chunk_size=500):
            counts[cond.MEMORY_AT_RISK] += len(
                engine.fire_event(event=cond.MEMORY_AT_RISK, subject=customer)
            )
    if engine.has_rules(cond.DAILY):
        latest = Interaction.objects.exclude(direction=Interaction.Direction.INTERNAL).order_by(
            "customer_id", "-occurred_at", "-id"
        )
        waiting = set()
        seen = set()
        for customer_id, direction in latest.values_list("customer_id", "direction").iterator(
            chunk_size=2000
        ):
            if customer_id in seen:
                continue
            seen.add(customer_id)
            if direction == Interaction.Direction.INBOUND:
                waiting.add(customer_id)
        for customer in Customer.objects.filter(pk__in=waiting).iterator(chunk_size=500):
            counts[cond.DAILY] += len(engine.fire_event(event=cond.DAILY, subject=customer))
    return counts


def ensure_schedules() -> None:
    """Idempotent: the claimer (every minute) and the daily events."""
    ensure_schedule(DISPATCH_SCHEDULE, "interventions.tasks.dispatch_due", minutes=1)
    ensure_schedule(DAILY_SCHEDULE, "interventions.tasks.daily_events", Schedule.DAILY)

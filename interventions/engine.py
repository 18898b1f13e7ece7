"""The engine: events in, interventions scheduled, due interventions claimed and executed.

An event is (name, subject, payload): `fire_event` matches active rules and writes one
Intervention per (rule, subject, episode) — a duplicated event finds the row already there.
Immediate interventions are queued on commit; delayed ones are picked up by `dispatch_due`
(a django-q2 schedule, every minute).

Claiming is one atomic UPDATE … WHERE status = scheduled (or running for longer than the
timeout) and checking the row count: a correct claim on PostgreSQL and SQLite alike, so two
workers, two deliveries of the same task or a reclaim racing a slow worker cannot both run it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from customers.models import Customer, Interaction
from interventions import actions
from interventions import conditions as cond
from interventions.enqueue import execute_intervention as queue_execution
from interventions.models import Intervention, Rule

logger = logging.getLogger(__name__)

Status = Intervention.Status


# How long a process may trust its cached "does any rule listen to this event?" answer.
RULES_CACHE_SECONDS = 10


def _has_rules_key(event: str) -> str:
    return f"interventions:has-rules:{event}"


def has_rules(event: str, *, cached: bool = False) -> bool:
    """Whether an active rule listens to `event`.

    ``cached=True`` is for the hot public path (every survey answer): the answer is kept for
    RULES_CACHE_SECONDS and dropped when a rule is saved or deleted (`forget_rules`, from
    interventions.receivers). With the default per-process cache, other processes see a rule
    change within RULES_CACHE_SECONDS; with a shared cache (CACHE_URL) at once. Everywhere
    else (workers above all) the answer is read fresh: an event skipped on a stale "no rule"
    would be lost, not delayed.
    """
    if not cached:
        return Rule.objects.active().filter(event=event).exists()
    key = _has_rules_key(event)
    listening = cache.get(key)
    if listening is None:
        listening = Rule.objects.active().filter(event=event).exists()
        cache.set(key, listening, RULES_CACHE_SECONDS)
    return listening


def forget_rules() -> None:
    """Drop the cached `has_rules` answers (a rule was saved or deleted)."""
    cache.delete_many([_has_rules_key(event) for event in cond.EVENTS])


def local_zone(customer: Customer) -> ZoneInfo:
    try:
        return ZoneInfo(customer.timezone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def schedule_time(rule: Rule, customer: Customer, at: datetime) -> datetime:
    """When the rule acts: after its delay, then at the next `at_local_hour` o'clock in the
    customer's time zone (the site's when unknown)."""
    when = at + (rule.delay or timedelta(0))
    if rule.at_local_hour is None:
        return when
    local = when.astimezone(local_zone(customer))
    target = local.replace(hour=rule.at_local_hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.astimezone(ZoneInfo("UTC"))


def episode_key(rule: Rule, customer: Customer, at: datetime) -> str:
    if rule.episode == Rule.Episode.DAILY:
        return at.astimezone(local_zone(customer)).date().isoformat()
    return ""


def _subject_parts(subject: models.Model) -> tuple[Customer, Interaction | None]:
    if isinstance(subject, Customer):
        return subject, None
    if isinstance(subject, Interaction):
        return subject.customer, subject
    facts = cond.Facts(event="", subject=subject)
    return facts.customer, facts.interaction


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# Actions that speak to someone now: they fire only for fresh events.
REALTIME_ACTIONS = frozenset({Rule.Action.ALERT, Rule.Action.EMAIL, Rule.Action.WEBHOOK})
# Events about something that happened at a time (an interaction, a moment).
TIMED_EVENTS = frozenset(
    {cond.INTERACTION_LOGGED, cond.INTERACTION_SCORED, cond.MOMENT_CREATED, cond.STAGE_REACHED}
)


def stale_reason(facts: cond.Facts, *, quiet: bool = False) -> str:
    """Why this event is not news ("" if it is): the interaction came from a CSV import, it
    happened before the freshness window (a backfill, the backlog a first model scores), or
    the caller says so (``quiet``: a new model rescoring rows already scored)."""
    if quiet:
        return "rescoring by a new model"
    interaction = facts.interaction
    if interaction is not None and interaction.imported:
        return "imported from a CSV file"
    happened = facts.moment.occurred_at if facts.moment is not None else None
    if happened is None and interaction is not None:
        happened = interaction.occurred_at
    window = timedelta(hours=settings.INTERVENTIONS_FRESH_HOURS)
    if happened is not None and happened < facts.now - window:
        return f"happened more than {settings.INTERVENTIONS_FRESH_HOURS} h ago"
    return ""


def severity(facts: cond.Facts) -> float | None:
    """How bad a negative event is: -score (0 … 1); None when it is not negative."""
    if cond.FIELDS["sentiment_label"].get(facts) != "negative":
        return None
    score = cond.FIELDS["sentiment_score"].get(facts)
    if score is None:
        return cond.FIELDS["sentiment_confidence"].get(facts)
    return round(-float(score), 6)


def _cooldown_holds(
    rule: Rule, customer: Customer, subject_type, subject, now: datetime, level: float | None
) -> tuple[bool, float | None]:
    """(held, the worst severity already fired within the cool-down). A new event is held back
    unless it is more severe than everything fired within the cool-down: escalation re-alerts,
    the same or milder does not."""
    if not rule.cooldown:
        return False, None
    recent = (
        Intervention.objects.filter(
            rule=rule, customer=customer, created_at__gte=now - rule.cooldown
        )
        .exclude(status=Status.CANCELLED)
        .exclude(subject_type=subject_type, subject_id=subject.pk)
    )
    if not recent.exists():
        return False, None
    worst = recent.aggregate(worst=models.Max("severity"))["worst"]
    if level is not None and worst is not None and level > worst + 1e-6:
        return False, worst
    return True, worst


def fire_event(
    *,
    event: str,
    subject: models.Model,
    payload: dict | None = None,
    enqueue: bool = True,
    quiet: bool = False,
) -> list[Intervention]:
    """Match the event against the active rules and schedule what fires. Returns the
    interventions created now (not those a duplicated event found already there).

    Real-time actions (alert, email, webhook) fire only for fresh events (`stale_reason`);
    ``quiet=True`` says the event is not news (a new model rescoring old rows).

    Interventions due now are queued for a worker on commit; a caller that is a worker already
    may pass ``enqueue=False`` and ``execute`` them itself (one queue hop less). If it dies
    first, the claimer finds them due within a minute.
    """
    if event not in cond.EVENTS:
        raise ValueError(f"Unknown event {event!r}")
    rules = list(Rule.objects.active().filter(event=event).order_by("pk"))
    if not rules:
        return []
    facts = cond.Facts(event=event, subject=subject, payload=payload)
    customer, interaction = _subject_parts(subject)
    subject_type = ContentType.objects.get_for_model(subject)
    now = timezone.now()
    created_rows = []
    for rule in rules:
        match = cond.evaluate(rule.conditions, facts)
        if not match.matched:
            continue
        if rule.action in REALTIME_ACTIONS and event in TIMED_EVENTS:
            stale = stale_reason(facts, quiet=quiet)
            if stale:
                logger.info("rule %s not fired for %s: %s", rule.slug, subject, stale)
                continue
        level = severity(facts) if event in cond.WITH_INTERACTION else None
        held, worst = _cooldown_holds(rule, customer, subject_type, subject, now, level)
        if held:
            logger.info("rule %s in cool-down for customer %s", rule.slug, customer.pk)
            continue
        why = {
            "event": event,
            "payload": _jsonable(payload or {}),
            "conditions": _jsonable(match.checked),
        }
        if worst is not None:
            why["escalation"] = {"severity": level, "previous": worst}
        scheduled_for = schedule_time(rule, customer, now)
        with transaction.atomic():
            intervention, created = Intervention.objects.get_or_create(
                rule=rule,
                subject_type=subject_type,
                subject_id=subject.pk,
                episode_key=episode_key(rule, customer, now),
                defaults={
                    "event": event,
                    "customer": customer,
                    "interaction": interaction,
                    "scheduled_for": scheduled_for,
                    "created_at": now,
                    "severity": level,
                    "why_fired": why,
                },
            )
            if created and enqueue and scheduled_for <= now:
                pk = intervention.pk
                transaction.on_commit(lambda pk=pk: queue_execution(pk))
        if created:
            created_rows.append(intervention)
    return created_rows


# --- claiming and executing ---------------------------------------------------------------


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.INTERVENTIONS_RUNNING_TIMEOUT_MINUTES)


def claim(pk: int) -> Intervention | None:
    """Take the intervention for this worker, or None if it is not ours to run (not due, done,
    cancelled, or running elsewhere and not yet timed out)."""
    now = timezone.now()
    claimed = (
        Intervention.objects.filter(pk=pk)
        .filter(
            Q(status=Status.SCHEDULED, scheduled_for__lte=now)
            | Q(status=Status.RUNNING, started_at__lt=_stale_before(now))
        )
        .update(status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Intervention.objects.select_related(
        "rule", "customer__owner", "interaction", "subject_type"
    ).get(pk=pk)


def _finish(intervention: Intervention, status: str, *, result=None, error: str = "") -> bool:
    # Only the worker that holds the claim (same started_at) may record the outcome.
    return bool(
        Intervention.objects.filter(
            pk=intervention.pk, status=Status.RUNNING, started_at=intervention.started_at
        ).update(
            status=status,
            result=_jsonable(result or {}),
            last_error=error[:4000],
            finished_at=timezone.now(),
        )
    )


def _retry_later(intervention: Intervention, retry: actions.RetryLater) -> bool:
    # Back to "scheduled", due after the back-off: the claimer's sweep queues it then. A
    # worker never sleeps through a back-off (it would hold a worker and its task timeout).
    return bool(
        Intervention.objects.filter(
            pk=intervention.pk, status=Status.RUNNING, started_at=intervention.started_at
        ).update(
            status=Status.SCHEDULED,
            scheduled_for=timezone.now() + retry.delay,
            last_error=str(retry)[:4000],
        )
    )


def _skip_reason(intervention: Intervention) -> tuple[str, list]:
    now = timezone.now()
    lateness = timedelta(minutes=settings.INTERVENTIONS_MAX_LATENESS_MINUTES)
    if intervention.scheduled_for < now - lateness:
        return (
            f"Due at {intervention.scheduled_for:%Y-%m-%d %H:%M} UTC, more than "
            f"{settings.INTERVENTIONS_MAX_LATENESS_MINUTES} min ago (downtime?): too late to act.",
            [],
        )
    if not intervention.rule.active:
        return "The rule was disabled before the intervention was due.", []
    subject = intervention.subject
    if subject is None:
        return "The subject no longer exists.", []
    if intervention.rule.still_true:
        facts = cond.Facts(event=intervention.event, subject=subject)
        match = cond.evaluate(intervention.rule.still_true, facts)
        if not match.matched:
            return "A 'still true' condition no longer holds.", _jsonable(match.checked)
    return "", []


def execute(pk: int) -> str:
    """Run one intervention if this worker can claim it. Safe to call any number of times,
    from any number of workers: the claim admits one, and every effect is keyed by the id."""
    intervention = claim(pk)
    if intervention is None:
        return "not claimed"
    try:
        reason, checked = _skip_reason(intervention)
        if reason:
            result = {"skipped": reason}
            if checked:
                result["still_true"] = checked
            _finish(intervention, Status.SKIPPED, result=result)
            return Status.SKIPPED
        result = actions.run(intervention)
    except actions.RetryLater as retry:
        _retry_later(intervention, retry)
        return Status.SCHEDULED
    except Exception as error:
        logger.exception("intervention %s failed", pk)
        _finish(intervention, Status.FAILED, error=f"{type(error).__name__}: {error}")
        return Status.FAILED
    status = Status.SKIPPED if result.get("skipped") else Status.DONE
    _finish(intervention, status, result=result)
    return status


def dispatch_due(*, limit: int | None = None) -> dict:
    """The claimer's sweep: skip rows far past due, fail rows whose worker died too often, and
    queue an execution for every due row and every row stuck in "running"."""
    now = timezone.now()
    limit = limit or settings.INTERVENTIONS_DISPATCH_BATCH
    lateness = timedelta(minutes=settings.INTERVENTIONS_MAX_LATENESS_MINUTES)
    too_late = Intervention.objects.filter(
        status=Status.SCHEDULED, scheduled_for__lt=now - lateness
    ).update(
        status=Status.SKIPPED,
        finished_at=now,
        result={
            "skipped": f"More than {settings.INTERVENTIONS_MAX_LATENESS_MINUTES} min past due "
            "when the claimer saw it (downtime?): too late to act."
        },
    )
    stale = Q(status=Status.RUNNING, started_at__lt=_stale_before(now))
    gave_up = Intervention.objects.filter(
        stale, attempts__gte=settings.INTERVENTIONS_MAX_ATTEMPTS
    ).update(
        status=Status.FAILED,
        finished_at=now,
        last_error="The worker stopped mid-task too many times; retry by hand.",
    )
    ids = list(
        Intervention.objects.filter(Q(status=Status.SCHEDULED, scheduled_for__lte=now) | stale)
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        queue_execution(pk)
    return {"queued": len(ids), "too_late": too_late, "gave_up": gave_up}

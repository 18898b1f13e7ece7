"""Every write of the interventions app that people make (the engine writes the rest)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from interventions import enqueue, holds
from interventions.models import Alert, FollowUpTask, Intervention, Rule

Status = Intervention.Status


@transaction.atomic
def cancel_intervention(*, intervention: Intervention, by: User) -> Intervention:
    """Cancel a scheduled intervention before it fires. Atomic against a worker claiming it:
    only a row still `scheduled` changes."""
    changed = Intervention.objects.filter(pk=intervention.pk, status=Status.SCHEDULED).update(
        status=Status.CANCELLED,
        cancelled_by=by,
        finished_at=timezone.now(),
        result={"skipped": f"Cancelled by {by.get_username()}."},
    )
    intervention.refresh_from_db()
    if not changed:
        raise ValidationError(
            f"Only a scheduled intervention can be cancelled (it is {intervention.status})."
        )
    return intervention


@transaction.atomic
def retry_intervention(*, intervention: Intervention, by: User) -> Intervention:
    """Schedule a failed, skipped or cancelled intervention again, now. Effects it already had
    (an email sent, an alert written) are not repeated: they are keyed by the intervention."""
    changed = Intervention.objects.filter(
        pk=intervention.pk, status__in=(Status.FAILED, Status.SKIPPED, Status.CANCELLED)
    ).update(
        status=Status.SCHEDULED, scheduled_for=timezone.now(), finished_at=None, cancelled_by=None
    )
    intervention.refresh_from_db()
    if not changed:
        raise ValidationError(
            "Only a failed, skipped or cancelled intervention can be retried "
            f"(it is {intervention.status})."
        )
    pk = intervention.pk
    transaction.on_commit(lambda: enqueue.execute_intervention(pk))
    return intervention


@transaction.atomic
def set_rule_active(*, rule: Rule, active: bool) -> Rule:
    rule.active = active
    rule.full_clean()
    rule.save(update_fields=["active", "updated_at"])
    return rule


def _copies(alert: Alert) -> QuerySet[Alert]:
    """The alert and the copies the same intervention sent to other people: one event, one
    state (the owner resolving it resolves it for the managers too)."""
    if alert.intervention_id is None:
        return Alert.objects.filter(pk=alert.pk)
    return Alert.objects.filter(intervention_id=alert.intervention_id)


@transaction.atomic
def acknowledge_alert(*, alert: Alert, by: User) -> Alert:
    """Someone is on it: open → acknowledged (and read), for every copy. Idempotent."""
    alert.refresh_from_db()
    if alert.state == Alert.State.RESOLVED:
        raise ValidationError("This alert is already resolved.")
    now = timezone.now()
    copies = _copies(alert)
    copies.filter(state=Alert.State.OPEN).update(
        state=Alert.State.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=by
    )
    copies.filter(read_at__isnull=True).update(read_at=now)
    alert.refresh_from_db()
    return alert


@transaction.atomic
def resolve_alert(*, alert: Alert, by: User) -> Alert:
    """Dealt with: open or acknowledged → resolved, for every copy. The customer's survey
    invitations held for this alert are sent if still due (and no other alert holds them).
    Idempotent."""
    now = timezone.now()
    copies = _copies(alert)
    copies.exclude(state=Alert.State.RESOLVED).update(
        state=Alert.State.RESOLVED, resolved_at=now, resolved_by=by
    )
    copies.filter(read_at__isnull=True).update(read_at=now)
    if alert.intervention_id is not None:
        holds.release_surveys_for_alert(alert.intervention_id)
    alert.refresh_from_db()
    return alert


def mark_alert_read(*, alert: Alert) -> Alert:
    if alert.read_at is None:
        alert.read_at = timezone.now()
        Alert.objects.filter(pk=alert.pk, read_at__isnull=True).update(read_at=alert.read_at)
    return alert


def mark_all_alerts_read(*, user: User) -> int:
    return Alert.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def complete_task(*, task: FollowUpTask, by: User) -> FollowUpTask:
    if task.done_at is None:
        task.done_at = timezone.now()
        task.done_by = by
        task.save(update_fields=["done_at", "done_by"])
    return task


@transaction.atomic
def save_rule(*, rule: Rule, data: dict) -> Rule:
    """Create or change a rule (admins, via the API); validates the condition language and
    the action config like the admin does."""
    for field, value in data.items():
        setattr(rule, field, value)
    rule.full_clean()
    rule.save()
    return rule

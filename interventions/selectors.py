"""Reads that depend on who asks: the intervention queue, the alert inbox, tasks, rules."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from customers.models import Customer
from interventions.access import alerts_for, interventions_visible_to, rules_visible_to, tasks_for
from interventions.models import ALERT_SEVERITIES, Alert, FollowUpTask, Intervention, Rule

Status = Intervention.Status

QUEUE_TABS = {
    "due": "Due now",
    "scheduled": "Scheduled",
    "failed": "Failed",
    "recent": "Recent",
}
QUEUE_LIMIT = 100


def queue(*, user, tab: str) -> QuerySet[Intervention]:
    """One tab of the manager's queue, at most QUEUE_LIMIT rows (a constant number of queries)."""
    now = timezone.now()
    rows = interventions_visible_to(user).select_related(
        "rule", "customer", "interaction__stage", "cancelled_by"
    )
    if tab == "due":
        rows = rows.filter(
            Q(status=Status.SCHEDULED, scheduled_for__lte=now) | Q(status=Status.RUNNING)
        ).order_by("scheduled_for", "id")
    elif tab == "scheduled":
        rows = rows.filter(status=Status.SCHEDULED, scheduled_for__gt=now).order_by(
            "scheduled_for", "id"
        )
    elif tab == "failed":
        rows = rows.filter(status=Status.FAILED).order_by("-finished_at", "-id")
    else:
        rows = rows.filter(status__in=(Status.DONE, Status.SKIPPED, Status.CANCELLED)).order_by(
            "-finished_at", "-id"
        )
    return rows[:QUEUE_LIMIT]


def queue_counts(*, user) -> dict[str, int]:
    now = timezone.now()
    rows = interventions_visible_to(user)
    return rows.aggregate(
        due=Count(
            "pk",
            filter=Q(status=Status.SCHEDULED, scheduled_for__lte=now) | Q(status=Status.RUNNING),
        ),
        scheduled=Count("pk", filter=Q(status=Status.SCHEDULED, scheduled_for__gt=now)),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
    )


def unread_alert_count(*, user) -> int:
    """Open alerts not yet read: the header's badge."""
    return alerts_for(user).filter(state=Alert.State.OPEN, read_at__isnull=True).count()


def header_alert_count(request: HttpRequest) -> int:
    """`unread_alert_count` for the request's user, computed once per request (the header and
    the inbox both show it)."""
    count = getattr(request, "_unread_alert_count", None)
    if count is None:
        count = unread_alert_count(user=request.user)
        request._unread_alert_count = count  # type: ignore[attr-defined]
    return count


INBOX_LIMIT = 100
# The inbox's state filter: "active" (the default) is everything not resolved.
INBOX_STATES = {
    "active": "Open and acknowledged",
    **{state.value: state.label for state in Alert.State},
    "all": "All",
}
_STATE_ORDER = Case(
    When(state=Alert.State.OPEN, then=Value(0)),
    When(state=Alert.State.ACKNOWLEDGED, then=Value(1)),
    default=Value(2),
)


def inbox(
    *, user, state: str = "active", severity: str = "", customer_id: int | None = None
) -> list[Alert]:
    """The user's alerts, open before acknowledged before resolved, then by priority × recency
    (Alert.rank_at: each priority point counts as ALERT_PRIORITY_STEP of recency)."""
    rows = alerts_for(user).select_related(
        "customer", "interaction", "intervention__rule", "acknowledged_by", "resolved_by"
    )
    if state == "active":
        rows = rows.exclude(state=Alert.State.RESOLVED)
    elif state in Alert.State.values:
        rows = rows.filter(state=state)
    if severity in ALERT_SEVERITIES:
        levels = list(ALERT_SEVERITIES.values())
        low = ALERT_SEVERITIES[severity]
        higher = [level for level in levels if level > low]
        rows = rows.filter(priority__gte=low)
        if higher:
            rows = rows.filter(priority__lt=min(higher))
    if customer_id:
        rows = rows.filter(customer_id=customer_id)
    return list(rows.order_by(_STATE_ORDER, "-rank_at", "-id")[:INBOX_LIMIT])


def open_tasks(*, user) -> QuerySet[FollowUpTask]:
    return (
        tasks_for(user)
        .filter(done_at__isnull=True)
        .select_related("customer")
        .order_by("due", "id")
    )


def recent_done_tasks(*, user, limit: int = 20) -> QuerySet[FollowUpTask]:
    return (
        tasks_for(user)
        .filter(done_at__isnull=False)
        .select_related("customer")
        .order_by("-done_at", "-id")[:limit]
    )


def rules_with_activity(*, user, days: int = 7) -> QuerySet[Rule]:
    since = timezone.now() - timedelta(days=days)
    return (
        rules_visible_to(user)
        .annotate(
            fired=Count("interventions", filter=Q(interventions__created_at__gte=since)),
            failed=Count(
                "interventions",
                filter=Q(interventions__created_at__gte=since, interventions__status=Status.FAILED),
            ),
        )
        .order_by("name")
    )


def customer_interventions(*, customer: Customer, limit: int = 10) -> list[Intervention]:
    return list(
        Intervention.objects.filter(customer=customer)
        .select_related("rule")
        .order_by("-created_at", "-id")[:limit]
    )


def interventions_by_interaction(*, ids) -> dict[int, list[Intervention]]:
    """{interaction id: its interventions, newest first} — every id present, [] if none."""
    found: dict[int, list[Intervention]] = {pk: [] for pk in ids}
    rows = (
        Intervention.objects.filter(interaction_id__in=list(found))
        .select_related("rule")
        .order_by("-created_at", "-id")
    )
    for row in rows:
        found[row.interaction_id].append(row)
    return found

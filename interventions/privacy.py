"""What interventions holds about a customer, for the GDPR export and erasure
(customers.privacy): the interventions rules scheduled for them (why each fired, what it did),
the emails they sent (address and rendered body), other effects, alerts and follow-up tasks.

Emails are found by intervention and by address: a log row sent to the customer's address
belongs to them whichever intervention wrote it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from customers import privacy
from customers.models import Customer
from interventions.models import Alert, EffectLog, FollowUpTask, Intervention, OutboundEmail


def _emails(customer: Customer) -> QuerySet[OutboundEmail]:
    about = Q(intervention__customer=customer)
    if customer.email:
        about |= Q(to__iexact=customer.email)
    return OutboundEmail.objects.filter(about)


def export(customer: Customer) -> dict[str, Any]:
    interventions = (
        Intervention.objects.filter(customer=customer)
        .select_related("rule")
        .order_by("created_at", "id")
    )
    effects = EffectLog.objects.filter(intervention__customer=customer).order_by("created_at", "id")
    alerts = (
        Alert.objects.filter(customer=customer).select_related("recipient").order_by("created_at")
    )
    tasks = (
        FollowUpTask.objects.filter(customer=customer)
        .select_related("assignee", "done_by")
        .order_by("created_at", "id")
    )
    return {
        "interventions": [
            {
                **privacy.values(
                    i,
                    [
                        "id",
                        "event",
                        "interaction_id",
                        "scheduled_for",
                        "status",
                        "why_fired",
                        "result",
                        "last_error",
                        "created_at",
                        "started_at",
                        "finished_at",
                    ],
                ),
                "rule": i.rule.name,
            }
            for i in interventions
        ],
        "emails": [
            privacy.values(
                e,
                [
                    "id",
                    "intervention_id",
                    "to",
                    "subject",
                    "body",
                    "status",
                    "error",
                    "created_at",
                    "sent_at",
                ],
            )
            for e in _emails(customer).order_by("created_at", "id")
        ],
        # The detail of a webhook or survey effect: url, HTTP status, invitation state (no
        # signing secret: that lives on the rule).
        "effects": [
            privacy.values(
                e, ["intervention_id", "kind", "status", "detail", "created_at", "finished_at"]
            )
            for e in effects
        ],
        "alerts": [
            {
                **privacy.values(a, ["id", "text", "priority", "created_at", "read_at"]),
                "recipient": privacy.username(a.recipient),
            }
            for a in alerts
        ],
        "follow_up_tasks": [
            {
                **privacy.values(t, ["id", "title", "notes", "due", "created_at", "done_at"]),
                "assignee": privacy.username(t.assignee),
                "done_by": privacy.username(t.done_by),
            }
            for t in tasks
        ],
    }


def erase(customer: Customer) -> dict[str, int]:
    return {
        "emails": privacy.delete_rows(_emails(customer)),
        "effects": privacy.delete_rows(EffectLog.objects.filter(intervention__customer=customer)),
        "alerts": privacy.delete_rows(Alert.objects.filter(customer=customer)),
        "follow_up_tasks": privacy.delete_rows(FollowUpTask.objects.filter(customer=customer)),
        "interventions": privacy.delete_rows(Intervention.objects.filter(customer=customer)),
    }


privacy.register("interventions", export=export, erase=erase)

"""Holding a customer's survey invitations while something is wrong (an open alert), and
sending the held ones once every hold is released, if they are still due."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from surveys import enqueue
from surveys.models import Invitation, SurveyHold


def is_held(*, customer_id: int) -> bool:
    return SurveyHold.objects.filter(customer_id=customer_id).exists()


def held_customer_ids(*, customer_ids: list[int]) -> set[int]:
    return set(
        SurveyHold.objects.filter(customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )


@transaction.atomic
def hold_surveys(*, customer_id: int, key: str, reason: str = "") -> SurveyHold:
    """Hold the customer's invitations until `release_surveys(key=key)`. Idempotent per key."""
    hold, _ = SurveyHold.objects.get_or_create(
        key=key, defaults={"customer_id": customer_id, "reason": reason[:200]}
    )
    return hold


@transaction.atomic
def release_surveys(*, key: str) -> list[int]:
    """Release one hold. When the customer has no other hold, their held invitations that are
    still due (unanswered, unexpired) are sent; returns their ids. Idempotent."""
    hold = SurveyHold.objects.select_for_update().filter(key=key).first()
    if hold is None:
        return []
    customer_id = hold.customer_id
    hold.delete()
    if is_held(customer_id=customer_id):
        return []
    due = list(
        Invitation.objects.filter(
            customer_id=customer_id,
            send_status=Invitation.SendStatus.HELD,
            answered_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).values_list("pk", flat=True)
    )
    if due:
        Invitation.objects.filter(pk__in=due).update(send_status=Invitation.SendStatus.PENDING)
        transaction.on_commit(lambda: enqueue.send_invitations(due))
    return due

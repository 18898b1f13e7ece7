"""django-q2 tasks of the email channel: they take ids and call the poller."""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django_q.models import Schedule

from customers.channels import enqueue, imap
from customers.channels.models import Mailbox

POLL_NAME = "email-in-poll-mailboxes"


def poll_mailboxes() -> int:
    """The schedule: one polling task per enabled mailbox (a slow or broken one delays no
    other). Returns how many were queued."""
    ids = list(Mailbox.objects.filter(enabled=True).values_list("pk", flat=True))
    for mailbox_id in ids:
        enqueue.poll_mailbox(mailbox_id)
    return len(ids)


def poll_mailbox(mailbox_id: int) -> dict:
    return asdict(imap.poll_mailbox(mailbox_id))


def ensure_email_schedule() -> None:
    """Idempotent: poll the enabled mailboxes every EMAIL_IN_POLL_MINUTES."""
    Schedule.objects.update_or_create(
        name=POLL_NAME,
        defaults={
            "func": "customers.channels.tasks.poll_mailboxes",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.EMAIL_IN_POLL_MINUTES,
            "repeats": -1,
        },
    )

"""Queueing the email channel's django-q2 tasks by dotted path (see moments/enqueue.py)."""

from __future__ import annotations

from memorycrm.lib.queue import enqueue


def poll_mailbox(mailbox_id: int) -> None:
    enqueue("customers.channels.tasks.poll_mailbox", mailbox_id, group="email-in")

"""Queueing the surveys app's django-q2 tasks, by their dotted path.

The task bodies (surveys/tasks.py) call the services; the services queue through this module,
so they never import the task bodies: no services <-> tasks cycle. Each helper queues through
``memorycrm.lib.queue.enqueue``: inside a transaction, as part of it (the task row, or an
outbox row with Redis).
"""

from __future__ import annotations

from memorycrm.lib.queue import enqueue

SEND_CHUNK = 25


def send_invitation(invitation_id: int) -> None:
    enqueue("surveys.tasks.send_invitation", invitation_id, group="surveys")


def send_invitations(invitation_ids: list[int]) -> None:
    """One task for one invitation; a bulk invite's in chunks (each email is still sent and
    recorded on its own, under its own lock)."""
    if len(invitation_ids) == 1:
        send_invitation(invitation_ids[0])
        return
    for start in range(0, len(invitation_ids), SEND_CHUNK):
        enqueue(
            "surveys.tasks.send_invitations",
            invitation_ids[start : start + SEND_CHUNK],
            group="surveys",
        )


def send_reminder(invitation_id: int) -> None:
    enqueue("surveys.tasks.send_reminder", invitation_id, group="surveys")


def score_responses(response_ids: list[int]) -> None:
    enqueue("surveys.tasks.score_responses", list(response_ids), group="sentiment")


def make_answer_moments(response_ids: list[int]) -> None:
    enqueue("surveys.tasks.make_answer_moments", list(response_ids), group="memory")


def note_recalls(response_ids: list[int]) -> None:
    enqueue("surveys.tasks.note_recalls", list(response_ids), group="memory")

"""django-q2 tasks: take ids, load, call a service (queued by surveys.enqueue); schedules."""

from __future__ import annotations

import time

from django.conf import settings
from django_q.models import Schedule

from memorycrm.lib.schedules import ensure_schedule
from surveys import enqueue, services

SWEEP_NAME = "surveys-sweep"
RECALIBRATE_NAME = "surveys-recalibrate-tags"
SCORING_NAME = "surveys-score-answers"


def send_invitation(invitation_id: int) -> str:
    return services.send_invitation_email(invitation_id=invitation_id)


def send_invitations(invitation_ids: list[int]) -> dict:
    outcomes: dict[str, int] = {}
    for pk in invitation_ids:
        outcome = services.send_invitation_email(invitation_id=pk)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def send_reminder(invitation_id: int) -> str:
    return services.send_invitation_email(invitation_id=invitation_id, reminder=True)


def score_responses(response_ids: list[int]) -> dict:
    return services.score_responses(ids=response_ids)


def make_answer_moments(response_ids: list[int]) -> dict:
    """Queued after scored answers commit: those that named no moment may become one, and the
    moments the others picked count as recalled (a transaction of its own)."""
    result = services.make_answer_moments(ids=response_ids)
    return {**result, "recalled": services.note_recalls(ids=response_ids)}


def note_recalls(response_ids: list[int]) -> dict:
    """Queued when an answer without text (nothing to score) picked moments."""
    return {"recalled": services.note_recalls(ids=response_ids)}


SCORING_CHUNK = 256


def score_pending() -> dict:
    """Scheduled every SURVEY_SCORING_MINUTES: score every answer still waiting for its
    sentiment, in chunks, oldest first. Answers are not queued one by one when submitted (that
    insert was a third of the public page's cost), so this is how an answer gets scored: at
    most SURVEY_SCORING_MINUTES after it was given, plus up to 30 s until django-q2's scheduler
    looks, plus the scoring itself. Without a model the answers stay pending for the next run.
    A run stops after most of its period, so a large backlog does not make runs overlap and
    score the same answers twice (harmless, as score_responses writes only pending rows, but
    wasted work)."""
    deadline = time.monotonic() + max(30, settings.SURVEY_SCORING_MINUTES * 60 - 15)
    scored = 0
    while ids := services.pending_response_ids(limit=SCORING_CHUNK):
        result = services.score_responses(ids=ids)
        scored += result["scored"]
        if result["unavailable"]:
            return {"scored": scored, "unavailable": result["unavailable"]}
        if not result["scored"] or time.monotonic() > deadline:
            break
    return {"scored": scored, "unavailable": ""}


def sweep() -> dict:
    """The scheduled sweep: reminders that are due, failed sends worth retrying, and answers
    still waiting for a sentiment score (the model or a worker was down). Each email is its own
    task, so one slow SMTP server does not hold up the rest; sending twice is harmless because
    send_invitation_email checks, under a row lock, whether it already went out."""
    reminders = services.due_reminder_ids()
    for pk in reminders:
        enqueue.send_reminder(pk)
    retries = services.retry_ids()
    for pk in retries:
        enqueue.send_invitation(pk)
    pending = services.pending_response_ids()
    if pending:
        enqueue.score_responses(pending)
    return {"reminders": len(reminders), "retries": len(retries), "to_score": len(pending)}


def recalibrate_tags() -> dict:
    """Weekly: propose tag weights from survey outcomes (applied only by an admin)."""
    return {"proposals": len(services.recalibrate_tags())}


def ensure_schedules() -> None:
    """Idempotent: the scoring of pending answers, the periodic sweep and the weekly
    recalibration (run by `manage.py setup_survey_schedules`)."""
    ensure_schedule(
        SCORING_NAME, "surveys.tasks.score_pending", minutes=settings.SURVEY_SCORING_MINUTES
    )
    ensure_schedule(RECALIBRATE_NAME, "surveys.tasks.recalibrate_tags", Schedule.WEEKLY)
    ensure_schedule(SWEEP_NAME, "surveys.tasks.sweep", minutes=settings.SURVEY_SWEEP_MINUTES)

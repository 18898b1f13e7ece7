"""Storing a customer's answer exactly once, on the public page's hot path."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import nullcontext

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from memorycrm.lib.queue import queue_with
from moments.memory import evidence as forecast_evidence
from moments.memory import parameters
from surveys import enqueue, selectors
from surveys.models import ForecastEvidence, Invitation, Response
from surveys.signals import survey_answered


class InvitationUnavailable(Exception):
    """The link cannot be answered (expired, skipped). The public page shows the same page
    for this as for an unknown token."""


def submit_response(
    *, invitation: Invitation, rating: int, answer: str = "", moment_ids: Iterable[int] = ()
) -> tuple[Response, bool]:
    """Store the customer's answer exactly once; returns (response, created).

    A double click, a resubmission, two tabs or two concurrent posts all end here, and the
    first answer wins: see ``_submit_response`` for how the claim on the invitation makes the
    others wait and then find the first response (created=False). The unique constraint on
    Response.invitation backs this up. ``moment_ids`` must be among the moments the page
    offered (``selectors.moment_choices``). Raises InvitationUnavailable for an expired or
    skipped invitation, ValidationError for an invalid answer.

    The answer's sentiment is not queued here: the scheduled ``surveys.tasks.score_pending``
    scores the waiting answers in bulk every SURVEY_SCORING_MINUTES (this is the hot path of
    the public page, and one queue insert per answer was a third of its cost).
    """
    try:
        return _submit_response(
            invitation=invitation, rating=rating, answer=answer, moment_ids=set(moment_ids)
        )
    except IntegrityError:
        # Only reachable if a response was written without the claim (a shell, a migration):
        # the constraint held, so the first response stands.
        return Response.objects.get(invitation_id=invitation.pk), False


def _submit_response(
    *, invitation: Invitation, rating: int, answer: str, moment_ids: set[int]
) -> tuple[Response, bool]:

    now = timezone.now()
    response = Response(
        invitation=invitation,
        survey=invitation.survey,
        customer_id=invitation.customer_id,
        rating=rating,
        answer=answer.strip(),
        created_at=now,
    )
    # The foreign keys come from the invitation and the database enforces the check and unique
    # constraints, so skip the queries full_clean would spend re-checking them.
    response.full_clean(
        exclude=["invitation", "survey", "customer"],
        validate_unique=False,
        validate_constraints=False,
    )
    # The forecast's evidence: the customer's moments by now. Which of them the page offered
    # is asked only when there are some (or picks to check).
    moments = forecast_evidence.moments_at(
        customer_id=response.customer_id, at=now, params=parameters.current()
    )
    offered: set[int] = set()
    if moments or moment_ids:
        offered = {choice.moment.pk for choice in selectors.moment_choices(invitation)}
    if not moment_ids <= offered:
        raise ValidationError({"moments": "Choose among the moments shown."})
    evidence = _evidence(response, moments, offered=offered, picked=moment_ids)

    # The claim: a conditional UPDATE of the invitation, which takes its row lock, written in
    # the same transaction as the response. A concurrent submit's UPDATE waits for that
    # transaction, then finds answered_at set and claims nothing (PostgreSQL re-checks the
    # WHERE on the committed row; SQLite runs one write transaction at a time), so a failed
    # claim on an answered invitation means the first response is there to return.
    def announce() -> None:
        survey_answered.send(sender=Response, response_id=response.pk)
        if moment_ids and not response.answer:  # nothing to score: note the recall now
            enqueue.note_recalls([response.pk])

    using = router.db_for_write(Response)
    one_statement = connections[using].vendor == "postgresql"
    # With the task queue in this database, the announcement joins the answer's transaction,
    # so the rules' task commits with the answer (memorycrm.lib.queue); else PostgreSQL's one
    # statement is a transaction of its own.
    queue_here = settings.Q_CLUSTER.get("orm") == using
    with transaction.atomic(using=using) if queue_here or not one_statement else nullcontext():
        if one_statement:
            claimed = _claim_and_insert_in_one_statement(
                response, sorted(moment_ids), now, evidence
            )
        else:
            claimed = _claim_and_insert(response, moment_ids, now, evidence)
        if claimed:
            invitation.answered_at = now
            queue_with(announce, using=using)
    if not claimed:
        if Invitation.objects.filter(pk=invitation.pk, answered_at__isnull=False).exists():
            return Response.objects.get(invitation_id=invitation.pk), False
        raise InvitationUnavailable
    return response, True


def _evidence(
    response: Response,
    moments: list[forecast_evidence.MomentEvidence],
    *,
    offered: set[int],
    picked: set[int],
) -> list[ForecastEvidence]:
    """The forecast's evidence for this answer (docs/memory-model.md, "The forecast learns from
    survey answers"): each of the customer's moments by now, with its forecast recall now and
    the features behind it, whether the page offered it and whether the customer picked it.
    Read before the claim; written with the answer."""
    return [
        ForecastEvidence(
            response=response,
            moment_id=e.moment_id,
            recall=min(1.0, max(0.0, e.recall)),
            age_days=e.candidate.age_days,
            intensity=e.candidate.intensity,
            polarity=e.candidate.polarity,
            tag_weights=list(e.candidate.tag_weights),
            stage_weight=e.candidate.stage_weight,
            refresh_ages=list(e.candidate.refresh_ages),
            offered=e.moment_id in offered,
            picked=e.moment_id in picked,
        )
        for e in moments
    ]


def _claim_and_insert(
    response: Response, moment_ids: set[int], now, evidence: list[ForecastEvidence]
) -> bool:
    """The claim and the insert through the ORM, inside the caller's transaction."""
    claimed = Invitation.objects.usable().filter(pk=response.invitation_id).update(answered_at=now)
    if claimed:
        response.save(force_insert=True)
        if moment_ids:
            response.moments.set(moment_ids)
        if evidence:
            for row in evidence:
                row.response = response  # now that it has its id
            ForecastEvidence.objects.bulk_create(evidence)
    return bool(claimed)


# The evidence rows, as a JSON array the statement unpacks (jsonb_to_recordset): one parameter,
# whatever the number of moments.
EVIDENCE_COLUMNS = {
    "moment_id": "bigint",
    "recall": "double precision",
    "age_days": "double precision",
    "intensity": "double precision",
    "polarity": "text",
    "tag_weights": "jsonb",
    "stage_weight": "double precision",
    "refresh_ages": "jsonb",
    "offered": "boolean",
    "picked": "boolean",
}


def _claim_and_insert_in_one_statement(
    response: Response, moment_ids: list[int], now, evidence: list[ForecastEvidence]
) -> bool:
    """The claim, the response, its picked moments and the forecast's evidence in one statement
    (data-modifying CTEs, PostgreSQL), so the public page's hot path spends one round trip on
    them: the ORM version spent four and most of the answer's CPU (bench/survey.py). Same
    semantics as ``_claim_and_insert``; the response's column values come from the model
    (defaults and all), so a new field needs nothing here."""
    using = router.db_for_write(Response)
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [f for f in Response._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(response, add=True), connection) for f in fields]
    links = Response.moments.through
    columns = ", ".join(f"{quote(c)} {kind}" for c, kind in EVIDENCE_COLUMNS.items())
    response_link = quote(links._meta.get_field("response").column)
    moment_link = quote(links._meta.get_field("moment").column)
    sql = f"""
        WITH claim AS (
            UPDATE {quote(Invitation._meta.db_table)} SET {quote("answered_at")} = %s
            WHERE {quote("id")} = %s AND {quote("answered_at")} IS NULL
              AND {quote("skipped_reason")} = '' AND {quote("expires_at")} > %s
            RETURNING {quote("id")}
        ), answer AS (
            INSERT INTO {quote(Response._meta.db_table)}
                ({", ".join(quote(f.column) for f in fields)})
            SELECT {", ".join(["%s"] * len(fields))} FROM claim
            RETURNING {quote("id")}
        ), picked AS (
            INSERT INTO {quote(links._meta.db_table)} ({response_link}, {moment_link})
            SELECT answer.{quote("id")}, moment FROM answer, unnest(%s::bigint[]) AS moment
        ), evidence AS (
            INSERT INTO {quote(ForecastEvidence._meta.db_table)}
                ({quote("response_id")}, {", ".join(quote(c) for c in EVIDENCE_COLUMNS)})
            SELECT answer.{quote("id")}, {", ".join(f"e.{quote(c)}" for c in EVIDENCE_COLUMNS)}
            FROM answer, jsonb_to_recordset(%s::jsonb) AS e({columns})
        )
        SELECT {quote("id")} FROM answer
    """
    rows = json.dumps([{c: getattr(row, c) for c in EVIDENCE_COLUMNS} for row in evidence])
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, response.invitation_id, now, *values, moment_ids, rows])
        row = cursor.fetchone()
    if row is None:
        return False
    response.pk = row[0]
    response._state.adding = False
    response._state.db = using
    return True

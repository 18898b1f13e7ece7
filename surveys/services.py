"""Every write of the surveys app: invitations, their emails and reminders, answers, scores."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Interaction
from customers.services import update_customer
from memorycrm.lib.queue import queue_with
from moments.memory import recall
from moments.memory import services as memory_services
from moments.models import Moment, MomentTag, MomentTagging
from moments.sentiment import services as sentiment
from moments.sentiment.classifier import ModelUnavailable
from moments.sentiment.loader import get_classifier
from surveys import enqueue, selectors, tokens
from surveys.models import Invitation, Response, Survey, TagWeightProposal
from surveys.recalibration import TagEvidence, propose
from surveys.signals import survey_answered

logger = logging.getLogger(__name__)

Skip = Invitation.SkipReason


# --- Invitations --------------------------------------------------------------------------


@dataclass
class InviteResult:
    invitation: Invitation
    # The raw link token: returned here once and never stored. None for a skipped invitation.
    token: str | None

    @property
    def skipped_reason(self) -> str:
        return self.invitation.skipped_reason


def answer_url(token: str) -> str:
    """The absolute link a customer opens (SURVEY_BASE_URL + /s/<token>/)."""
    return settings.SURVEY_BASE_URL.rstrip("/") + reverse("survey-answer", args=[token])


def _skip_reasons(*, survey: Survey, customers: list[Customer], at) -> dict[int, str]:
    """customer id → why not to invite them ("" to invite), for a batch, in one query."""
    recent: set[int] = set()
    if survey.frequency_limit_days and survey.active:
        since = at - timedelta(days=survey.frequency_limit_days)
        # Across all surveys: any invitation that was not itself skipped counts.
        recent = set(
            Invitation.objects.counted()
            .filter(customer_id__in=[c.pk for c in customers], created_at__gt=since)
            .values_list("customer_id", flat=True)
        )
    reasons = {}
    for customer in customers:
        if not survey.active:
            reasons[customer.pk] = Skip.INACTIVE
        elif customer.survey_opt_out:
            reasons[customer.pk] = Skip.OPTED_OUT
        elif not customer.email:
            reasons[customer.pk] = Skip.NO_EMAIL
        elif customer.pk in recent:
            reasons[customer.pk] = Skip.TOO_SOON
        else:
            reasons[customer.pk] = ""
    return reasons


@transaction.atomic
def _invite(
    *,
    survey: Survey,
    customer_ids: list[int],
    interaction: Interaction | None,
    created_by: AbstractBaseUser | None,
    send: bool,
) -> list[InviteResult]:
    """Invite a batch of customers in one transaction and a constant number of queries."""
    # Lock the customer rows (in id order, so two batches cannot deadlock): two agents, or an
    # agent and a bulk run, inviting the same customer at once must not both pass the
    # frequency check.
    customers = list(
        Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk")
    )
    at = timezone.now()
    reasons = _skip_reasons(survey=survey, customers=customers, at=at)
    user = created_by if getattr(created_by, "is_authenticated", False) else None
    results = []
    for customer in customers:
        invitation = Invitation(
            survey=survey,
            customer=customer,
            interaction=interaction,
            created_by=user,
            created_at=at,
            expires_at=at + timedelta(days=survey.link_lifetime_days),
        )
        raw = None
        if reasons[customer.pk]:
            invitation.skipped_reason = reasons[customer.pk]
            invitation.send_status = Invitation.SendStatus.SKIPPED
        else:
            raw, invitation.token_hash = tokens.new_token()
            invitation.send_status = (
                Invitation.SendStatus.PENDING if send else Invitation.SendStatus.NOT_SENT
            )
        # The related rows were just loaded (or locked), and the database enforces uniqueness
        # and the check constraints: validate the fields without a query per row.
        invitation.full_clean(
            exclude=["survey", "customer", "interaction", "created_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        results.append(InviteResult(invitation=invitation, token=raw))
    Invitation.objects.bulk_create([r.invitation for r in results])
    to_send = [r.invitation.pk for r in results if r.token and send]
    if to_send:
        transaction.on_commit(lambda: enqueue.send_invitations(to_send))
    return results


def create_invitation(
    *,
    survey: Survey,
    customer: Customer,
    interaction: Interaction | None = None,
    created_by: AbstractBaseUser | None = None,
    send: bool = True,
) -> InviteResult:
    """Invite a customer to a survey, or record why not (opted out, no email, invited within
    the survey's frequency limit, survey inactive): a skipped invitation is kept, with its
    reason and no token, so agents and the report see it.

    The raw token is in the result only: keep it if you deliver the link yourself
    (``send=False``, e.g. an integrator). With ``send=True`` the email is sent by a task queued
    on commit; each email carries its own freshly minted link (see ``send_invitation_email``).
    """
    if interaction is not None and interaction.customer_id != customer.pk:
        raise ValidationError({"interaction": "This interaction belongs to another customer."})
    (result,) = _invite(
        survey=survey,
        customer_ids=[customer.pk],
        interaction=interaction,
        created_by=created_by,
        send=send,
    )
    return result


@dataclass
class BulkSummary:
    invited: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_rows(self) -> list[tuple[str, int]]:
        labels = dict(Skip.choices)
        return [(labels.get(reason, reason), n) for reason, n in self.skipped.most_common()]


def bulk_invite(
    *, survey: Survey, customers: Iterable[Customer], created_by: AbstractBaseUser | None
) -> BulkSummary:
    """Invite many customers at once (same rules as ``create_invitation``), in one transaction
    and a constant number of queries; the emails go out from tasks. Returns how many were
    invited and how many were skipped for which reason."""
    ids = list(dict.fromkeys(c.pk for c in customers))
    summary = BulkSummary()
    if not ids:
        return summary
    for result in _invite(
        survey=survey, customer_ids=ids, interaction=None, created_by=created_by, send=True
    ):
        if result.skipped_reason:
            summary.skipped[result.skipped_reason] += 1
        else:
            summary.invited += 1
    return summary


# --- Emails -------------------------------------------------------------------------------


def opt_out_url(token: str) -> str:
    return settings.SURVEY_BASE_URL.rstrip("/") + reverse("survey-opt-out", args=[token])


@transaction.atomic
def opt_out(*, invitation: Invitation) -> None:
    """The customer asked for no more surveys (from a link in a survey email)."""
    customer = Customer.objects.select_for_update().get(pk=invitation.customer_id)
    if not customer.survey_opt_out:
        update_customer(customer=customer, survey_opt_out=True)


def _message(*, invitation: Invitation, token: str, reminder: bool) -> EmailMultiAlternatives:
    context = {
        "invitation": invitation,
        "survey": invitation.survey,
        "customer": invitation.customer,
        "url": answer_url(token),
        "opt_out_url": opt_out_url(token),
        "reminder": reminder,
        "expires_at": invitation.expires_at,
    }
    # Dates in the email read in the customer's time zone when we know it.
    with timezone.override(selectors.customer_timezone(invitation.customer)):
        subject = " ".join(render_to_string("surveys/email/subject.txt", context).split())
        text = render_to_string("surveys/email/invitation.txt", context)
        html = render_to_string("surveys/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.customer.email],
        headers={
            "Auto-Submitted": "auto-generated",
            # One-click unsubscribe (RFC 8058): mail clients post to the opt-out link.
            "List-Unsubscribe": f"<{context['opt_out_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def send_invitation_email(*, invitation_id: int, reminder: bool = False) -> str:
    """Send the invitation (or its reminder) by email, at most once, and record the outcome.

    Runs in a task. The invitation row stays locked while the email goes out, so a duplicated
    or retried task waits, then sees it was sent and does nothing. The email carries a link
    minted here; the link before it stays valid (``previous_token_hash``), so a reminder does
    not break the first email. Returns what happened, for the task result.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("survey", "customer")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            return "gone"
        if invitation.skipped_reason or invitation.answered_at or invitation.is_expired:
            return "not needed"
        if reminder:
            if invitation.send_status != Invitation.SendStatus.SENT or invitation.reminder_sent_at:
                return "no reminder due"
        elif invitation.send_status not in (
            Invitation.SendStatus.PENDING,
            Invitation.SendStatus.FAILED,
        ):
            return f"already {invitation.send_status}"
        customer = invitation.customer
        if customer.survey_opt_out or not customer.email:
            # Opted out (or lost the address) since the invitation was made.
            invitation.skipped_reason = Skip.OPTED_OUT if customer.survey_opt_out else Skip.NO_EMAIL
            invitation.send_status = Invitation.SendStatus.SKIPPED
            invitation.token_hash = invitation.previous_token_hash = None
            invitation.save()
            return "skipped"
        raw, digest = tokens.new_token()
        invitation.send_attempts += 1
        try:
            _message(invitation=invitation, token=raw, reminder=reminder).send()
        except Exception as exc:  # SMTP and friends: any failure is a recorded status
            logger.warning("Survey email for invitation %s failed: %s", invitation.pk, exc)
            Invitation.objects.filter(pk=invitation.pk).update(
                send_attempts=invitation.send_attempts,
                send_error=f"{type(exc).__name__}: {exc}"[:2000],
                **({} if reminder else {"send_status": Invitation.SendStatus.FAILED}),
            )
            return "failed"
        invitation.previous_token_hash, invitation.token_hash = invitation.token_hash, digest
        invitation.sent_to = customer.email
        invitation.send_error = ""
        if reminder:
            invitation.reminder_sent_at = timezone.now()
        else:
            invitation.sent_at = timezone.now()
            invitation.send_status = Invitation.SendStatus.SENT
        invitation.save()
        return "reminded" if reminder else "sent"


def due_reminder_ids(*, limit: int = 500) -> list[int]:
    """Sent, unanswered, unexpired invitations whose survey's reminder delay has passed."""
    now = timezone.now()
    rows = (
        Invitation.objects.filter(
            send_status=Invitation.SendStatus.SENT,
            answered_at__isnull=True,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
            survey__reminder_delay_days__gt=0,
        )
        .order_by("sent_at")
        .values_list("pk", "sent_at", "survey__reminder_delay_days")[: limit * 4]
    )
    due = [pk for pk, sent_at, days in rows if sent_at + timedelta(days=days) <= now]
    return due[:limit]


def retry_ids(*, limit: int = 200) -> list[int]:
    """Failed sends worth another try (fewer than SURVEY_SEND_MAX_ATTEMPTS)."""
    return list(
        Invitation.objects.filter(
            send_status=Invitation.SendStatus.FAILED,
            send_attempts__lt=settings.SURVEY_SEND_MAX_ATTEMPTS,
            expires_at__gt=timezone.now(),
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- Answers ------------------------------------------------------------------------------


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
    if moment_ids:
        offered = {choice.moment.pk for choice in selectors.moment_choices(invitation)}
        if not moment_ids <= offered:
            raise ValidationError({"moments": "Choose among the moments shown."})

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
            claimed = _claim_and_insert_in_one_statement(response, sorted(moment_ids), now)
        else:
            claimed = _claim_and_insert(response, moment_ids, now)
        if claimed:
            invitation.answered_at = now
            queue_with(announce, using=using)
    if not claimed:
        if Invitation.objects.filter(pk=invitation.pk, answered_at__isnull=False).exists():
            return Response.objects.get(invitation_id=invitation.pk), False
        raise InvitationUnavailable
    return response, True


def _claim_and_insert(response: Response, moment_ids: set[int], now) -> bool:
    """The claim and the insert through the ORM, inside the caller's transaction."""
    claimed = Invitation.objects.usable().filter(pk=response.invitation_id).update(answered_at=now)
    if claimed:
        response.save(force_insert=True)
        if moment_ids:
            response.moments.set(moment_ids)
    return bool(claimed)


def _claim_and_insert_in_one_statement(response: Response, moment_ids: list[int], now) -> bool:
    """The claim, the response and its picked moments in one statement (data-modifying CTEs,
    PostgreSQL), so the public page's hot path spends one round trip on them: the ORM version
    spent four and most of the answer's CPU (bench/survey.py). Same semantics as
    ``_claim_and_insert``; the response's column values come from the model (defaults and
    all), so a new field needs nothing here."""
    using = router.db_for_write(Response)
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [f for f in Response._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(response, add=True), connection) for f in fields]
    links = Response.moments.through
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
        )
        SELECT {quote("id")} FROM answer
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, response.invitation_id, now, *values, moment_ids])
        row = cursor.fetchone()
    if row is None:
        return False
    response.pk = row[0]
    response._state.adding = False
    response._state.db = using
    return True


# --- Sentiment of the open answers ---------------------------------------------------------


def score_responses(*, ids: Iterable[int]) -> dict:
    """Score the open answers with the active sentiment model (moments.sentiment), the same
    model and the same field shape as interactions. Without a model, the answers stay pending
    for the sweep. The writer is the interactions' (moments.sentiment.services.write_scores):
    a row is written only while pending or scored by an older version. Once each batch
    commits, the rows written are queued for ``make_answer_moments``."""
    try:
        classifier = get_classifier()
    except ModelUnavailable as exc:
        return {"scored": 0, "unavailable": exc.reason}
    rows = list(
        Response.objects.filter(pk__in=list(ids))
        .exclude(answer="")
        .filter(Q(scored_at__isnull=True) | Q(sentiment_model__lt=classifier.version))
        .order_by("pk")
        .values_list("pk", "answer")
    )
    size = settings.SENTIMENT_BATCH_SIZE
    written = 0
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        scores = classifier.score([text for _, text in batch], batch_size=size)
        with transaction.atomic():
            batch_written = sentiment.write_scores(
                Response.objects.all(),
                version=classifier.version,
                scores={pk: score for (pk, _), score in zip(batch, scores, strict=True)},
            )
            written += len(batch_written)
            if batch_written:  # only rows really written: a retried task queues nothing
                transaction.on_commit(  # an answer naming no moment may become one
                    partial(enqueue.make_answer_moments, batch_written)
                )
    return {"scored": written, "unavailable": ""}


@transaction.atomic
def make_answer_moments(*, ids: Iterable[int]) -> dict:
    """The scored answers among ``ids`` that have text and picked no moment become moments
    of their own when they are emotionally charged (source: survey; the rules are in
    moments.memory.services.detect_answer_moments), linked by ``Response.moment``.

    Idempotent and safe to run twice at once: the answers' rows are locked first (in id
    order), so a second run waits for the first, then finds the moment it linked and updates
    that moment rather than making another. A dismissed moment stays dismissed. An answer that
    picked a moment is about that moment and never becomes another one.
    """
    rows = list(
        Response.objects.select_for_update(of=("self",))
        .filter(pk__in=list(ids), scored_at__isnull=False, moments__isnull=True)
        .exclude(answer="")
        .select_related("invitation__interaction__stage")
        .order_by("pk")
    )
    answers = [
        memory_services.Answer(
            customer_id=row.customer_id,
            text=row.answer,
            score=row.sentiment_score,
            confidence=row.sentiment_confidence,
            answered_at=row.created_at,
            stage=row.invitation.interaction.stage if row.invitation.interaction else None,
            moment_id=row.moment_id,
        )
        for row in rows
    ]
    moments = memory_services.detect_answer_moments(answers=answers)
    linked = 0
    for row, moment in zip(rows, moments, strict=True):
        if moment is not None and row.moment_id != moment.pk:
            Response.objects.filter(pk=row.pk).update(moment=moment)
            linked += 1
    return {"moments": sum(m is not None for m in moments), "linked": linked}


def note_recalls(*, ids: Iterable[int]) -> int:
    """The moments the answers among ``ids`` picked ("this stood out") were recalled by the
    customer when they answered: each is refreshed and the customer's memory recomputed
    (moments.memory.recall.note_recalled). Runs in the worker: after an answer with text is
    scored (``tasks.make_answer_moments``), or, for one without text, in a task queued when it
    is submitted. Idempotent: a recall is keyed by the answer's time, so an answer processed
    twice refreshes its moments once. Returns how many moments gained a recall."""
    picks = Response.moments.through.objects.filter(response_id__in=list(ids)).values_list(
        "moment_id", "response__created_at"
    )
    return len(recall.note_recalled(recalls=list(picks)))


def pending_response_ids(*, limit: int = 1000) -> list[int]:
    return list(
        Response.objects.filter(scored_at__isnull=True)
        .exclude(answer="")
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- Recalibration of tag weights ------------------------------------------------------------


def tag_evidence(*, since=None) -> list:
    """Per active tag, the ratings (on −1…1) of answers whose moments carry it and of those
    whose moments do not (see surveys.recalibration). Reads ids and numbers only."""
    responses = Response.objects.all()
    if since is not None:
        responses = responses.filter(created_at__gte=since)
    ratings = {
        pk: selectors.signed_rating(rating, kind)
        for pk, rating, kind in responses.values_list("pk", "rating", "survey__rating_kind")
    }
    # Each answer's moments, as the report's themes read them (selectors.ANSWER_MOMENT_PATHS):
    # the ones picked; else the moment the answer became; else the surveyed interaction's.
    picked: dict[int, set[int]] = {}
    for response_id, moment_id in Response.moments.through.objects.filter(
        response_id__in=responses.values("pk"), moment__dismissed=False
    ).values_list("response_id", "moment_id"):
        picked.setdefault(response_id, set()).add(moment_id)
    for response_id, moment_id in (
        responses.exclude(pk__in=list(picked))
        .filter(moment__isnull=False, moment__dismissed=False)
        .values_list("pk", "moment_id")
    ):
        picked[response_id] = {moment_id}
    by_interaction: dict[int, list[int]] = {}  # several answers may be about one interaction
    for interaction_id, response_id in (
        responses.exclude(pk__in=list(picked))
        .filter(invitation__interaction__isnull=False)
        .values_list("invitation__interaction_id", "pk")
    ):
        by_interaction.setdefault(interaction_id, []).append(response_id)
    for moment_id, interaction_id in (
        Moment.objects.live()
        .filter(interaction_id__in=list(by_interaction))
        .values_list("pk", "interaction_id")
    ):
        for response_id in by_interaction[interaction_id]:
            picked.setdefault(response_id, set()).add(moment_id)
    tags_of_moment: dict[int, set[int]] = {}
    moment_ids = {m for ids in picked.values() for m in ids}
    for moment_id, tag_id in MomentTagging.objects.filter(moment_id__in=moment_ids).values_list(
        "moment_id", "tag_id"
    ):
        tags_of_moment.setdefault(moment_id, set()).add(tag_id)
    tags_of_response = {
        pk: set().union(*(tags_of_moment.get(m, set()) for m in moments))
        for pk, moments in picked.items()
    }
    evidence = []
    for tag_id, weight in MomentTag.objects.active().values_list("pk", "weight"):
        with_tag, without_tag = [], []
        for pk, rating in ratings.items():
            (with_tag if tag_id in tags_of_response.get(pk, ()) else without_tag).append(rating)
        evidence.append(TagEvidence(tag_id, weight, with_tag, without_tag))
    return evidence


@transaction.atomic
def recalibrate_tags(*, since=None) -> list[TagWeightProposal]:
    """Propose impact weights from survey outcomes (surveys.recalibration). Open proposals from
    an earlier run are superseded; no tag weight changes until an admin applies a proposal."""
    proposals = propose(
        tag_evidence(since=since),
        min_n=settings.SURVEY_RECALIBRATION_MIN_N,
        prior_n=settings.SURVEY_RECALIBRATION_PRIOR_N,
    )
    TagWeightProposal.objects.filter(status=TagWeightProposal.Status.PROPOSED).update(
        status=TagWeightProposal.Status.SUPERSEDED
    )
    rows = []
    for proposal in proposals:
        e = proposal.evidence
        row = TagWeightProposal(
            tag_id=e.tag_id,
            current_weight=e.current_weight,
            proposed_weight=proposal.proposed_weight,
            n_with=e.n_with,
            n_without=e.n_without,
            mean_with=round(e.mean_with, 4),
            mean_without=round(e.mean_without, 4),
            effect=round(e.effect, 4),
            t_stat=round(e.t_stat, 2),
        )
        row.full_clean(validate_unique=False)
        row.save()
        rows.append(row)
    return rows


@transaction.atomic
def apply_proposals(
    *, proposals: Iterable[TagWeightProposal], user: AbstractBaseUser | None
) -> int:
    """Set each open proposal's tag weight (an admin's decision); returns how many applied."""
    applied = 0
    for proposal in proposals:
        proposal = TagWeightProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != TagWeightProposal.Status.PROPOSED:
            continue
        tag = MomentTag.objects.select_for_update().get(pk=proposal.tag_id)
        tag.weight = proposal.proposed_weight
        tag.full_clean()
        tag.save(update_fields=["weight"])
        proposal.status = TagWeightProposal.Status.APPLIED
        proposal.applied_at = timezone.now()
        proposal.applied_by = user if getattr(user, "is_authenticated", False) else None
        proposal.save(update_fields=["status", "applied_at", "applied_by"])
        applied += 1
    return applied

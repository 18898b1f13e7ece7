"""What follows an answer in the worker: its sentiment (the interactions' model and writer),
the moment it may become, and the recall of the moments it picked."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from moments.memory import recall
from moments.memory import services as memory_services
from moments.sentiment import services as sentiment
from moments.sentiment.classifier import ModelUnavailable
from moments.sentiment.loader import get_classifier
from moments.sentiment.survey import with_rating
from surveys import enqueue
from surveys.models import Response
from surveys.selectors import signed_rating


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
        .values_list("pk", "answer", "rating", "survey__rating_kind")
    )
    size = settings.SENTIMENT_BATCH_SIZE
    written = 0
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        texts = classifier.score([text for _, text, _, _ in batch], batch_size=size)
        # The answer's sentiment reads its rating too ("really surprised me" at 4/5 is positive).
        scores = [
            with_rating(text, signed_rating(rating, kind))
            for text, (_, _, rating, kind) in zip(texts, batch, strict=True)
        ]
        with transaction.atomic():
            batch_written = sentiment.write_scores(
                Response.objects.all(),
                version=classifier.version,
                scores={row[0]: score for row, score in zip(batch, scores, strict=True)},
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

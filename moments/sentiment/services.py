"""Every write of the sentiment feature: scores, training runs and their status, corrections."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, CharField, FloatField, Q, QuerySet, Value, When
from django.utils import timezone

from customers.models import Conversation, Interaction, ScoredText
from memorycrm.lib.queue import queue_with
from moments import enqueue
from moments.memory import recall
from moments.models import ScoringRequest, SentimentCorrection, SentimentModel
from moments.sentiment import selectors
from moments.sentiment.classifier import ModelUnavailable, Score
from moments.sentiment.loader import get_classifier
from moments.sentiment.training import Mode, TrainConfig, train
from moments.signals import interactions_scored

logger = logging.getLogger(__name__)

# What an agent's correction writes on the interaction: the human is sure, and the marker
# sorts after every timestamped model version, so no rescoring ever overwrites it.
HUMAN_VERSION = "human-correction"
HUMAN_SCORE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


# --- Scoring ------------------------------------------------------------------------------


def write_scores(
    rows: QuerySet[ScoredText],
    *,
    version: str,
    scores: Mapping[int, Score],
    rescored: list[int] | None = None,
) -> list[int]:
    """The one writer of model scores, for any scored text (interactions, survey answers): write
    each score on its row among ``rows`` while that row is pending or scored by an older model
    version, and return the ids written.

    So a retried or duplicated task, or two workers racing on the same rows, never write twice
    and never replace a newer model's score with an older one's (versions start with a UTC
    timestamp: "older" is a string comparison). Call it in a transaction so that a batch lands
    completely or not at all. ``rescored`` (optional) collects the ids among those returned
    that already had a score (a newer model's rescoring).

    One SELECT of the rows still to write and one UPDATE of them all (the values by CASE on
    the id), under the same condition: if the UPDATE writes fewer rows than the SELECT found,
    another worker wrote some in between, and the batch is undone (a savepoint) and written a
    row at a time, each row's own conditional UPDATE saying whether it was this worker's.
    """
    eligible = Q(scored_at__isnull=True) | Q(sentiment_model__lt=version)
    found = dict(
        rows.filter(eligible, pk__in=list(scores)).values_list("pk", "scored_at").order_by("pk")
    )
    if not found:
        return []
    now = timezone.now()

    def case(value: Callable[[Score], object], output) -> Case:
        whens = [When(pk=pk, then=Value(value(scores[pk]))) for pk in found]
        return Case(*whens, output_field=output)

    try:
        with transaction.atomic():
            updated = rows.filter(eligible, pk__in=list(found)).update(
                sentiment_label=case(lambda s: s.label, CharField()),
                sentiment_score=case(lambda s: s.score, FloatField()),
                sentiment_confidence=case(lambda s: s.confidence, FloatField()),
                sentiment_model=version,
                scored_at=now,
            )
            if updated != len(found):
                raise _Raced
    except _Raced:
        return _write_scores_one_by_one(rows, version=version, scores=scores, rescored=rescored)
    if rescored is not None:
        rescored.extend(pk for pk, scored_at in found.items() if scored_at is not None)
    return list(found)


class _Raced(Exception):
    """Another worker wrote some of the batch's rows between the SELECT and the UPDATE."""


def _write_scores_one_by_one(
    rows: QuerySet[ScoredText],
    *,
    version: str,
    scores: Mapping[int, Score],
    rescored: list[int] | None,
) -> list[int]:
    now = timezone.now()
    written: list[int] = []
    for pk, score in scores.items():
        values = {
            "sentiment_label": score.label,
            "sentiment_score": score.score,
            "sentiment_confidence": score.confidence,
            "sentiment_model": version,
            "scored_at": now,
        }
        row = rows.filter(pk=pk)
        if row.filter(scored_at__isnull=True).update(**values):
            written.append(pk)
        elif row.filter(scored_at__isnull=False, sentiment_model__lt=version).update(**values):
            written.append(pk)
            if rescored is not None:
                rescored.append(pk)
    return written


@transaction.atomic
def record_scores(
    *,
    version: str,
    scores: dict[int, Score],
    trajectories: Mapping[int, tuple[Score, Score]] | None = None,
) -> int:
    """Write interactions' scores computed by model ``version`` (``write_scores``; an agent's
    correction is never overwritten) and announce the rows written; returns how many.
    ``trajectories``: {id: (first, last customer turn's score)} of conversations, kept with
    the rows written.

    Rows that already had a score (a newer model, ``rescore``) are announced apart, with
    ``rescoring=True``: the switch-over to a new model is not a new event, and real-time
    reactions (alerts, emails) must not fire for it.
    """
    rescored: list[int] = []
    written = write_scores(
        Interaction.objects.filter(sentiment_correction__isnull=True),
        version=version,
        scores=scores,
        rescored=rescored,
    )
    trajectories = trajectories or {}
    for pk in set(written) & set(trajectories):
        opening, ending = trajectories[pk]
        Conversation.objects.filter(interaction_id=pk).update(
            opening_score=opening.score, ending_score=ending.score
        )
    first = [pk for pk in written if pk not in set(rescored)]
    # Only rows really written: a retried task must not re-announce them. Moment detection and
    # rules react (their receivers only queue tasks). With the ORM task queue, it is sent
    # inside this transaction, so the follow-up tasks commit with the scores: a worker killed
    # right after the commit loses nothing (memorycrm.lib.queue).
    for ids, rescoring in ((first, False), (rescored, True)):
        if ids:
            queue_with(
                partial(
                    interactions_scored.send,
                    sender=Interaction,
                    interaction_ids=ids,
                    rescoring=rescoring,
                )
            )
    return len(written)


@dataclass
class ScoreRun:
    scored: int = 0  # rows written
    seen: int = 0  # rows the model read
    unavailable: str = ""  # why nothing could be scored, if so

    def as_dict(self) -> dict:
        return {"scored": self.scored, "seen": self.seen, "unavailable": self.unavailable}


def score_interactions(*, ids: Iterable[int]) -> ScoreRun:
    """Score the given interactions if still pending (or outdated) with the active model.

    The model runs outside any transaction (it is slow), in batches of SENTIMENT_BATCH_SIZE;
    then each slice of up to 512 rows (a task holds 256) is written by one ``record_scores``:
    one short transaction and one ``interactions_scored`` signal per slice, not per batch, so
    the reactions downstream (moment detection, rules) get a few large tasks. If no model can
    be loaded, nothing is written: the rows stay pending for the sweep (``score_pending``).
    """
    try:
        classifier = get_classifier()
    except ModelUnavailable as exc:
        logger.warning("Sentiment scoring skipped, rows stay pending: %s", exc.reason)
        return ScoreRun(unavailable=exc.reason)
    run = ScoreRun()
    ids = list(ids)
    for start in range(0, len(ids), 512):
        rows = list(
            selectors.interactions_to_score(version=classifier.version)
            .filter(pk__in=ids[start : start + 512])
            .order_by("pk")
            .values_list("pk", "subject", "body")
        )
        if not rows:
            continue
        texts = [
            "\n".join(p for p in (subject.strip(), body.strip()) if p) for _, subject, body in rows
        ]
        # Conversations: their first and last customer turns too, in the same batches.
        ends = _conversation_ends([pk for pk, _, _ in rows])
        extra = [text for first, last in ends.values() for text in (first, last)]
        scores = classifier.score(texts + extra, batch_size=settings.SENTIMENT_BATCH_SIZE)
        whole = {pk: score for (pk, _, _), score in zip(rows, scores[: len(rows)], strict=True)}
        trajectories = {
            pk: (scores[len(rows) + 2 * i], scores[len(rows) + 2 * i + 1])
            for i, pk in enumerate(ends)
        }
        run.seen += len(rows)
        run.scored += record_scores(
            version=classifier.version,
            scores={pk: remembered(score, trajectories.get(pk)) for pk, score in whole.items()},
            trajectories=trajectories,
        )
    return run


def _conversation_ends(ids: list[int]) -> dict[int, tuple[str, str]]:
    """{interaction id: (first, last customer turn)} for those of ``ids`` that are chats or
    calls sent as transcripts (customers.channels.conversations)."""
    ends = {}
    for pk, turns in Conversation.objects.filter(interaction_id__in=ids).values_list(
        "interaction_id", "turns"
    ):
        said = [t["text"] for t in turns if t.get("speaker") == Conversation.Speaker.CUSTOMER]
        if said:
            ends[pk] = (said[0], said[-1])
    return ends


def remembered(whole: Score, trajectory: tuple[Score, Score] | None) -> Score:
    """The sentiment an interaction carries. A conversation is remembered by how it ended (the
    "end" of peak–end): its last customer turn's score, when that turn says something (beyond
    MEMORY_NEUTRAL_BAND); when the customer ends on a flat "ok, bye", the score of everything
    the customer said. So a chat that starts furious and ends grateful is not a complaint, and
    one that ends furious is, whatever came before. Anything else: its whole text's score."""
    if trajectory is None:
        return whole
    ending = trajectory[1]
    return ending if abs(ending.score) >= settings.MEMORY_NEUTRAL_BAND else whole


@transaction.atomic
def mark_for_rescoring(*, since: datetime | None = None) -> int:
    """Make model-scored interactions (since a date, or all) eligible for rescoring by any
    version: ``record_scores`` only replaces scores of an older version, and "" is the oldest.
    Labels stay visible meanwhile. Agents' corrections are left alone."""
    queryset = Interaction.objects.customer_words().filter(
        scored_at__isnull=False, sentiment_correction__isnull=True
    )
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    return queryset.exclude(sentiment_model=HUMAN_VERSION).update(sentiment_model="")


def score_pending(*, time_budget: float = 300.0, chunk: int = 512) -> ScoreRun:
    """Score whatever is pending or scored by an older model, oldest first, for up to
    ``time_budget`` seconds. The sweep: nothing is lost if a worker or the model was down."""
    try:
        version = get_classifier().version
    except ModelUnavailable as exc:
        return ScoreRun(unavailable=exc.reason)
    total = ScoreRun()
    deadline = time.monotonic() + time_budget
    last_pk = 0
    while time.monotonic() < deadline:
        # Keyset over pk so rows that cannot be written (raced, corrected) are not re-read.
        ids = list(
            selectors.interactions_to_score(version=version)
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            break
        last_pk = ids[-1]
        run = score_interactions(ids=ids)
        total.scored += run.scored
        total.seen += run.seen
        if run.unavailable:
            total.unavailable = run.unavailable
            break
    return total


# --- Training runs and model status --------------------------------------------------------


@transaction.atomic
def create_training_run(*, kind: str, with_corrections: bool = False) -> SentimentModel:
    run = SentimentModel(
        kind=kind, with_corrections=with_corrections, message="waiting for a worker"
    )
    run.full_clean()
    run.save()
    return run


@transaction.atomic
def report_training_progress(*, model: SentimentModel, fraction: float, message: str) -> None:
    """Progress of a running training (also its heartbeat, via updated_at)."""
    fields = {
        "status": SentimentModel.Status.TRAINING,
        "progress": max(0.0, min(1.0, fraction)),
        "message": message[:500],
        "updated_at": timezone.now(),
    }
    if model.started_at is None:
        model.started_at = fields["started_at"] = timezone.now()
    SentimentModel.objects.filter(pk=model.pk).update(**fields)


@transaction.atomic
def finish_training(
    *, model: SentimentModel, version: str, path: Path, metadata: dict, activate: bool = True
) -> SentimentModel:
    """Record a trained model as ready and (by default) make it the one used for scoring."""
    model_dir = Path(settings.SENTIMENT_MODEL_DIR).resolve()
    path = path.resolve()
    model.path = str(path.relative_to(model_dir) if path.is_relative_to(model_dir) else path)
    model.version = version
    model.metadata = metadata
    model.status = SentimentModel.Status.READY
    model.progress = 1.0
    hutto = metadata.get("metrics", {}).get("hutto3_test", {}).get("macro_f1")
    model.message = f"ready, macro-F1 {hutto:.3f} on the Hutto 3-class test" if hutto else "ready"
    model.finished_at = timezone.now()
    if activate:
        model.activated_at = model.finished_at
    model.full_clean()
    model.save()
    return model


@transaction.atomic
def activate_model(*, model: SentimentModel) -> None:
    """Score with this ready model from now on (e.g. roll back to an earlier one). Rescoring
    with an older version only touches rows a newer version has not scored; use ``rescore
    --all`` to force it."""
    SentimentModel.objects.filter(pk=model.pk).update(activated_at=timezone.now())
    transaction.on_commit(enqueue.score_pending)


@transaction.atomic
def fail_training(*, model: SentimentModel, reason: str) -> None:
    SentimentModel.objects.filter(pk=model.pk).update(
        status=SentimentModel.Status.FAILED, message=reason[:500], finished_at=timezone.now()
    )


@transaction.atomic
def mark_model_broken(*, model: SentimentModel, reason: str) -> None:
    """The active model's file is missing or corrupt: take it out of service (the previous
    ready model, if any, becomes active) and show why on the status page."""
    SentimentModel.objects.filter(pk=model.pk).update(
        status=SentimentModel.Status.FAILED, message=f"unavailable: {reason}"[:500]
    )


def train_sentiment_model(
    *,
    model: SentimentModel,
    seed: int = 42,
    fraction: float = 1.0,
    epochs: int | None = None,
    activate: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> SentimentModel:
    """Train the model described by the row ``model`` (kind, with_corrections), recording
    progress, then its metrics (ready) or the failure reason (failed). Not atomic on purpose:
    progress must be visible while it runs. Re-raises nothing: a failure is a status."""
    # kind is a CharField limited to SentimentModel.Kind: "quick" or "full", the training modes.
    mode = cast(Mode, model.kind)
    config = TrainConfig(mode=mode, seed=seed, fraction=fraction, epochs=epochs)
    previous = None
    if model.with_corrections:
        config.corrections_train, config.corrections_test = selectors.correction_examples(seed=seed)
        try:
            previous = get_classifier()
        except ModelUnavailable:
            previous = None
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        if progress:
            progress(fraction, message)
        now = time.monotonic()
        if now - last[0] >= 2 or fraction >= 1.0:  # a heartbeat, not a write per batch
            last[0] = now
            report_training_progress(model=model, fraction=fraction, message=message)

    report(0.0, "starting")
    try:
        result = train(
            config,
            model_dir=Path(settings.SENTIMENT_MODEL_DIR),
            cache_dir=Path(settings.SENTIMENT_CACHE_DIR),
            progress=report,
            previous=previous,
        )
    except Exception as exc:  # any failure: recorded for the status page, logged with trace
        logger.exception("Sentiment training %s failed", model.pk)
        fail_training(model=model, reason=f"{type(exc).__name__}: {exc}")
        model.refresh_from_db()
        return model
    model.refresh_from_db()
    return finish_training(
        model=model,
        version=result.version,
        path=result.path,
        metadata=result.metadata,
        activate=activate,
    )


# --- Corrections --------------------------------------------------------------------------


@transaction.atomic
def correct_sentiment(
    *, interaction: Interaction, label: str, user: User | None
) -> SentimentCorrection:
    """Record an agent's label for an interaction (kept for retraining) and show it at once.

    The interaction takes the human label with full confidence and a score of -1 / 0 / +1;
    the HUMAN_VERSION marker keeps later rescoring from overwriting it. If the interaction is
    a moment, its polarity, impact and recall (and the customer's balance) follow at once
    (``recall.refresh_interaction_memory``), so no page shows a "negative" moment next to a
    "positive (corrected)" badge; detection runs again in the worker after commit
    (moments.memory.receivers) for what it decides: reasons, or a new moment.
    """
    if label not in HUMAN_SCORE:
        raise ValidationError({"label": f"Choose one of: {', '.join(HUMAN_SCORE)}."})
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction.is_customer_words:
        raise ValidationError(
            {"label": "An agent's reply or note carries no customer sentiment to correct."}
        )
    correction = SentimentCorrection.objects.filter(interaction=interaction).first()
    if correction is None:
        correction = SentimentCorrection(
            interaction=interaction,
            previous_label=interaction.sentiment_label,
            previous_model=interaction.sentiment_model,
        )
    correction.label = label
    correction.text = interaction.text
    correction.corrected_by = user
    correction.corrected_at = timezone.now()
    correction.full_clean()
    correction.save()
    Interaction.objects.filter(pk=interaction.pk).update(
        sentiment_label=label,
        sentiment_score=HUMAN_SCORE[label],
        sentiment_confidence=1.0,
        sentiment_model=HUMAN_VERSION,
        scored_at=correction.corrected_at,
    )
    recall.refresh_interaction_memory(interaction_id=interaction.pk)
    return correction


# --- First run ----------------------------------------------------------------------------


def ensure_sentiment_model() -> str:
    """Queue what is missing, never wait: train quick-then-full if there is no model, the full
    one if only a quick model exists; nothing if a training is already under way. Stale
    training rows (their worker died) are marked failed first. Returns what it did."""
    stale = SentimentModel.objects.filter(
        status__in=[SentimentModel.Status.QUEUED, SentimentModel.Status.TRAINING]
    ).exclude(pk__in=selectors.training_in_progress().values("pk"))
    for row in stale:
        fail_training(model=row, reason="its worker stopped before training finished")
    if selectors.training_in_progress().exists():
        return "training already in progress"
    active = selectors.active_sentiment_model()
    if active is None:
        run = create_training_run(kind=SentimentModel.Kind.QUICK)
        transaction.on_commit(lambda: enqueue.train_model(run.pk, then_full=True))
        return f"no model: queued quick training (run {run.pk}), then full"
    if active.kind == SentimentModel.Kind.QUICK:
        if SentimentModel.objects.filter(
            kind=SentimentModel.Kind.FULL,
            status=SentimentModel.Status.FAILED,
            created_at__gt=active.created_at,
        ).exists():
            return f"model {active.version} ready (quick); full training failed, see status"
        run = create_training_run(kind=SentimentModel.Kind.FULL)
        transaction.on_commit(lambda: enqueue.train_model(run.pk))
        return f"quick model {active.version} ready: queued full training (run {run.pk})"
    return f"model {active.version} ready"


# --- Ad-hoc scoring (POST /api/v1/sentiment/), in the workers ---------------------------------


def request_scoring(*, texts: list[str], user: User) -> ScoringRequest:
    """Store ``texts`` as a scoring request and queue it for a worker: web processes never
    load the model. Requests older than SENTIMENT_API_RESULT_HOURS go at the same time."""
    cutoff = timezone.now() - timedelta(hours=settings.SENTIMENT_API_RESULT_HOURS)
    ScoringRequest.objects.filter(created_at__lt=cutoff).delete()
    scoring = ScoringRequest.objects.create(texts=texts, requested_by=user)
    enqueue.score_request(str(scoring.pk))
    return scoring


def score_request(*, request_id: str) -> ScoringRequest | None:
    """Score a queued request with the active model (in a worker), keep the results and drop
    the texts. A request already done (a task delivered twice) or gone is left alone."""
    scoring = ScoringRequest.objects.filter(
        pk=request_id, status=ScoringRequest.Status.QUEUED
    ).first()
    if scoring is None:
        return None
    try:
        classifier = get_classifier()
    except ModelUnavailable as exc:
        scoring.status, scoring.error = ScoringRequest.Status.FAILED, exc.reason[:300]
    else:
        scores = classifier.score(scoring.texts, batch_size=settings.SENTIMENT_BATCH_SIZE)
        scoring.status = ScoringRequest.Status.DONE
        scoring.model_version = classifier.version
        scoring.results = [
            {"label": s.label, "score": s.score, "confidence": s.confidence} for s in scores
        ]
    scoring.texts = []
    scoring.finished_at = timezone.now()
    scoring.save()
    return scoring

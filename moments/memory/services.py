"""Every write of memory moments: detection, promotion, tags and dismissal. Each ends by
recomputing the impact, recall and balance of the customers concerned and their journey rollup
days (moments.memory.recall)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Interaction, JourneyStage
from memorycrm.lib.queue import queue_with
from moments import signals
from moments.memory import detection, rollup
from moments.memory.recall import refresh_customer_memory
from moments.models import (
    Moment,
    MomentTag,
    MomentTagging,
    TagRule,
)

logger = logging.getLogger(__name__)


# Both are sent with the transaction when the task queue lives in it (memorycrm.lib.queue):
# the rules' tasks then commit with the moments, and a killed worker loses no announcement.


def _announce(moment_ids: list[int]) -> None:
    if moment_ids:
        queue_with(lambda: signals.moments_created.send(sender=Moment, moment_ids=moment_ids))


def _announce_tagged(moment: Moment, tags: Iterable[MomentTag]) -> None:
    """Say which tags an agent just added to this (live) moment."""
    slugs = sorted(t.slug for t in tags)
    if slugs and not moment.dismissed:
        moment_id = moment.pk
        queue_with(
            lambda: signals.moment_tagged.send(sender=Moment, moment_id=moment_id, tags=slugs)
        )


def _merge_reasons(existing: list[dict], new: Iterable[dict]) -> list[dict]:
    """Reasons keyed by their code: a re-detection replaces the detail, agent reasons stay."""
    merged = {r["reason"]: r for r in existing if r.get("reason") != detection.TAG_RULE}
    rules = [r for r in existing if r.get("reason") == detection.TAG_RULE]
    for reason in new:
        if reason["reason"] == detection.TAG_RULE:
            if reason not in rules:
                rules.append(reason)
        else:
            merged[reason["reason"]] = reason
    return list(merged.values()) + rules


# --- Detection ----------------------------------------------------------------------------


def _history(customer_id: int, rules: list[TagRule]) -> list[detection.Fact]:
    """Every scored interaction of a customer, oldest first, as detection sees it."""
    interactions = (
        Interaction.objects.filter(customer_id=customer_id, scored_at__isnull=False)
        .select_related("stage")
        .order_by("occurred_at", "pk")
    )
    return [
        detection.Fact(
            id=i.pk,
            occurred_at=i.occurred_at,
            score=i.sentiment_score,
            confidence=i.sentiment_confidence,
            voiced=i.direction == Interaction.Direction.INBOUND,
            words=detection.word_count(i.text),
            stage_name=i.stage.name if i.stage else None,
            stage_is_critical=bool(i.stage and i.stage.is_critical),
            matched_rules=tuple(
                (rule.name, phrase)
                for rule, phrase in detection.matched_rules(i.text, rules, stage_id=i.stage_id)
            ),
        )
        for i in interactions
    ]


def _vouched(moment: Moment) -> bool:
    """A person stands behind this moment (an agent made it, or tagged it), or the customer
    recalled it in a survey answer: detection never takes it back."""
    return bool(
        moment.created_by_id
        or detection.AGENT in moment.reason_codes
        or moment.recalled_at
        or moment.taggings.filter(source="agent").exists()
    )


@transaction.atomic
def detect_moments(*, interaction_ids: Iterable[int]) -> list[Moment]:
    """Detect the moments of the customers of these (scored) interactions: which qualify
    (see moments/memory/detection.py), why, the rules' tags, then refresh the recall and
    balance of each customer concerned (a new moment refreshes earlier ones on the same tag).

    Detection runs over each customer's whole scored history, so the result never depends on
    the order interactions were scored in: an interaction scored late changes the baseline of
    the later ones, which are detected again with it. A moment detection made earlier that no
    longer qualifies is taken back, unless a person or the customer vouched for it (an agent
    made or tagged it, the customer recalled it). Concurrent detections of one customer wait
    for each other (the customer row is locked), so the last one sees every score.

    Idempotent: an interaction that is already a moment gets its reasons updated; one an agent
    dismissed stays dismissed. Returns the moments of ``interaction_ids`` created or updated.
    """
    thresholds = detection.Thresholds.from_settings()
    rules = active_tag_rules()
    asked = set(interaction_ids)
    customer_ids = sorted(
        set(
            Interaction.objects.filter(pk__in=list(asked), scored_at__isnull=False).values_list(
                "customer_id", flat=True
            )
        )
    )
    list(Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk"))
    touched: list[Moment] = []
    created: list[int] = []
    changed: list[int] = []
    for customer_id in customer_ids:
        history = _history(customer_id, rules)
        decided = detection.detect_history(history, thresholds=thresholds)
        existing = {
            m.interaction_id: m
            for m in Moment.objects.filter(customer_id=customer_id, interaction__isnull=False)
        }
        rules_by_name = {rule.name: rule for rule in rules}
        interactions = Interaction.objects.select_related("stage").in_bulk(list(decided))
        for fact in history:
            moment = existing.get(fact.id)
            found = decided.get(fact.id)
            if moment is not None and moment.dismissed:
                continue  # the agent's decision stands
            if not found:
                if moment is not None and not _vouched(moment):
                    moment.delete()  # no longer qualifies (its history changed)
                    changed.append(customer_id)
                continue
            is_new = moment is None
            if moment is None:
                interaction = interactions[fact.id]
                moment = Moment(
                    customer_id=customer_id,
                    interaction=interaction,
                    stage=interaction.stage,
                    occurred_at=interaction.occurred_at,
                )
            matched = [
                (rules_by_name[name], phrase)
                for name, phrase in fact.matched_rules
                if name in rules_by_name
            ]
            _save_detected(moment, found=found, matched=matched, is_new=is_new, replace=True)
            changed.append(customer_id)
            if fact.id in asked:
                touched.append(moment)
            if is_new:
                created.append(moment.pk)
    _after_detection(customer_ids=sorted(set(changed)), created=created)
    return touched


def _save_detected(
    moment: Moment, *, found: list[dict], matched: list, is_new: bool, replace: bool = False
) -> None:
    """Store a detected moment: its reasons grow (``replace``: detection's reasons are the ones
    found now, an agent's stay), its detector is named unless an agent made it, and the matched
    tag rules' tags are added (never twice)."""
    if replace:
        kept = [r for r in moment.reasons if r.get("reason") == detection.AGENT]
        moment.reasons = _merge_reasons(kept, found)
    else:
        moment.reasons = _merge_reasons(moment.reasons, found)
    if is_new or not moment.created_by_id:
        moment.detected_by = _detected_by(moment.reasons)
    moment.full_clean()
    moment.save()
    for rule, _ in matched:
        MomentTagging.objects.get_or_create(
            moment=moment, tag=rule.tag, defaults={"source": rule.name[:150]}
        )


def _after_detection(*, customer_ids: list[int], created: list[int]) -> None:
    """Refresh the recall and balance of each customer concerned, then their rollup days all
    at once (one recomputation, its locks taken in order), and announce the new moments."""
    for customer_id in customer_ids:
        refresh_customer_memory(customer_id=customer_id, rollup=False)
    rollup.refresh_customers(customer_ids)
    _announce(created)


def _detected_by(reasons: list[dict]) -> str:
    names = []
    for r in reasons:
        if r["reason"] == detection.TAG_RULE:
            names.append(r["detail"].split('"')[1] if '"' in r["detail"] else "tag rule")
        elif r["reason"] != detection.AGENT:
            names.append(r["reason"])
    return ", ".join(dict.fromkeys(names))[:150] or "detection"


def active_tag_rules() -> list[TagRule]:
    """The tag rules detection applies (active rules of active tags), with their tags; match
    them against any text with ``detection.matched_rules``."""
    return list(
        TagRule.objects.filter(active=True, tag__active=True).select_related("tag").order_by("pk")
    )


@dataclass(frozen=True)
class Answer:
    """A scored survey answer, as moment detection needs it: plain values, which the surveys
    app builds from its Response rows (moments knows nothing of surveys)."""

    customer_id: int
    text: str
    score: float | None
    confidence: float | None
    answered_at: datetime
    stage: JourneyStage | None  # the surveyed interaction's stage, if there is one
    moment_id: int | None = None  # the moment this answer already is (an earlier detection)


@transaction.atomic
def detect_answer_moments(*, answers: Sequence[Answer]) -> list[Moment | None]:
    """Make moments (source: survey) of the survey answers that are emotionally charged and
    name no moment: the caller passes only answers whose customer picked none.

    The rules are the interactions' (moments/memory/detection.py) minus the swing: a sentiment peak;
    a critical stage (the surveyed interaction's) with a non-neutral answer; a tag rule matching
    the answer's text (any-stage rules, and the stage's own). The moment happens when the
    customer answered, sits in the surveyed interaction's stage, keeps the answer's text and
    sentiment (``source_text``, ``source_score``, ``source_confidence``), carries the matched
    rules' tags, and gets impact, recall and the customer's balance like any other moment.

    Idempotent, like ``detect_moments``, given the moment each answer already is
    (``Answer.moment_id``): a rescore updates that moment's sentiment and reasons and never
    makes a second one; a dismissed one stays as the agent left it. The caller keeps the link
    (one moment per answer) and must hold a lock on its answers so that two runs cannot both
    see no moment.

    Returns, for each answer in order, its moment (created, updated, or the existing one) or
    None when the answer is not a moment.
    """
    thresholds = detection.Thresholds.from_settings()
    rules = active_tag_rules()
    existing = Moment.objects.select_for_update().in_bulk(
        sorted({a.moment_id for a in answers if a.moment_id is not None})
    )
    results: list[Moment | None] = []
    touched: list[Moment] = []
    created: list[int] = []
    for answer in answers:
        moment = existing.get(answer.moment_id)
        results.append(moment)
        if moment is not None and moment.dismissed:
            continue  # the agent's decision stands
        matched = detection.matched_rules(
            answer.text, rules, stage_id=answer.stage.pk if answer.stage else None
        )
        found = detection.answer_reasons(
            score=answer.score,
            confidence=answer.confidence,
            stage_name=answer.stage.name if answer.stage else None,
            stage_is_critical=bool(answer.stage and answer.stage.is_critical),
            previous_scores=[],  # no swing: the baseline is of interactions, not answers
            matched_rules=[(rule.name, phrase) for rule, phrase in matched],
            thresholds=thresholds,
        )
        is_new = moment is None
        if is_new and not found:
            continue
        if moment is None:
            moment = Moment(
                customer_id=answer.customer_id,
                source=Moment.Source.SURVEY,
                stage=answer.stage,
                occurred_at=answer.answered_at,
            )
            results[-1] = moment
        # A rescore may change the sentiment (an existing moment's scores follow it, as an
        # interaction moment's follow its interaction); the reasons only grow.
        moment.source_text = answer.text
        moment.source_score = answer.score
        moment.source_confidence = answer.confidence
        _save_detected(moment, found=found, matched=matched, is_new=is_new)
        touched.append(moment)
        if is_new:
            created.append(moment.pk)
    _after_detection(customer_ids=sorted({m.customer_id for m in touched}), created=created)
    return results


# --- Agent actions --------------------------------------------------------------------------


def _tags_usable(tags: Iterable[MomentTag]) -> list[MomentTag]:
    tags = list(tags)
    retired = [t.name for t in tags if not t.active]
    if retired:
        raise ValidationError({"tags": f"Retired tags cannot be added: {', '.join(retired)}."})
    return tags


@transaction.atomic
def promote_interaction(
    *,
    interaction: Interaction,
    user: User | None,
    tags: Iterable[MomentTag] = (),
    note: str = "",
) -> Moment:
    """Make an interaction a moment by hand (or add the agent's tags to the moment it already
    is; a dismissed one comes back). The caller has checked the user may see the interaction."""
    tags = _tags_usable(tags)
    interaction = Interaction.objects.select_related("stage").get(pk=interaction.pk)
    moment = Moment.objects.select_for_update().filter(interaction=interaction).first()
    is_new = moment is None
    if moment is None:
        moment = Moment(
            customer_id=interaction.customer_id,
            interaction=interaction,
            stage=interaction.stage,
            occurred_at=interaction.occurred_at,
        )
    username = user.get_username() if user is not None else "agent"
    detail = f"promoted by {username}" + (f": {note.strip()}" if note.strip() else "")
    moment.reasons = _merge_reasons(
        moment.reasons, [{"reason": detection.AGENT, "detail": detail[:300]}]
    )
    if is_new:
        moment.detected_by = username[:150]
        moment.created_by = user
    moment.dismissed = False
    moment.dismissed_reason = ""
    moment.dismissed_by = None
    moment.dismissed_at = None
    moment.full_clean()
    moment.save()
    added = [
        tag
        for tag in tags
        if MomentTagging.objects.get_or_create(
            moment=moment, tag=tag, defaults={"added_by": user, "source": "agent"}
        )[1]
    ]
    refresh_customer_memory(customer_id=moment.customer_id)
    if is_new:
        _announce([moment.pk])
    else:
        _announce_tagged(moment, added)
    moment.refresh_from_db()
    return moment


@transaction.atomic
def add_tag(*, moment: Moment, tag: MomentTag, user: User | None) -> Moment:
    """Put an (active) tag on a moment; adding one it already has changes nothing. A new tag
    is announced (``signals.moment_tagged``) once the transaction commits."""
    _tags_usable([tag])
    _, created = MomentTagging.objects.get_or_create(
        moment=moment, tag=tag, defaults={"added_by": user, "source": "agent"}
    )
    refresh_customer_memory(customer_id=moment.customer_id)
    moment.refresh_from_db()
    if created:
        _announce_tagged(moment, [tag])
    return moment


@transaction.atomic
def remove_tag(*, moment: Moment, tag: MomentTag, user: User | None) -> Moment:
    """Take a tag off a moment (retired tags too: that is how they leave old moments)."""
    MomentTagging.objects.filter(moment=moment, tag=tag).delete()
    refresh_customer_memory(customer_id=moment.customer_id)
    moment.refresh_from_db()
    return moment


@transaction.atomic
def set_tags(*, moment: Moment, tags: Iterable[MomentTag], user: User | None) -> Moment:
    """Make the moment's tags exactly ``tags``. Retired tags it already has may stay; new ones
    must be active. The tags added are announced (``signals.moment_tagged``) on commit."""
    wanted = {t.pk: t for t in tags}
    current = set(MomentTagging.objects.filter(moment=moment).values_list("tag_id", flat=True))
    added = _tags_usable(t for pk, t in wanted.items() if pk not in current)
    MomentTagging.objects.filter(moment=moment).exclude(tag_id__in=list(wanted)).delete()
    for tag in added:
        MomentTagging.objects.create(moment=moment, tag=tag, added_by=user, source="agent")
    refresh_customer_memory(customer_id=moment.customer_id)
    moment.refresh_from_db()
    _announce_tagged(moment, added)
    return moment


@transaction.atomic
def dismiss_moment(*, moment: Moment, user: User | None, reason: str) -> Moment:
    """An agent says this is not a moment (with why). It stops counting in recall, balance and
    dashboards, and detection will not bring it back; promoting it again does."""
    moment = Moment.objects.select_for_update().get(pk=moment.pk)
    moment.dismissed = True
    moment.dismissed_reason = reason.strip()[:300]
    moment.dismissed_by = user
    moment.dismissed_at = timezone.now()
    moment.full_clean()
    moment.save()
    refresh_customer_memory(customer_id=moment.customer_id)
    moment.refresh_from_db()
    return moment

"""Recalibration of tag impact weights from survey outcomes: the evidence, the proposals, and
an admin applying them (the statistics: surveys.recalibration)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from moments.models import Moment, MomentTag, MomentTagging
from surveys import selectors
from surveys.models import Response, TagWeightProposal
from surveys.recalibration import TagEvidence, propose


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
        with_tag: list[float] = []
        without_tag: list[float] = []
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
def apply_proposals(*, proposals: Iterable[TagWeightProposal], user: User | None) -> int:
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

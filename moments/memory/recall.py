"""What a customer will remember, recomputed: every live moment's impact and recall forecast and
the customer's memory balance (the formulas: moments/memory/scoring.py), then the journey rollup
days they fall on (moments/memory/rollup.py). Run after every write of moments
(moments.memory.services), when a customer recalls a moment (``note_recalled``), and on a
schedule, since memory fades as days pass (``refresh_all_memory``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from moments.memory import detection, parameters, scoring
from moments.memory import rollup as journey_rollup  # not `rollup`: a parameter below
from moments.models import CustomerMemory, Moment, MomentTag, MomentTagging

# --- Recalled by the customer ----------------------------------------------------------------


def recall_times(moment: Moment) -> list[datetime]:
    """When the customer recalled the moment (``Moment.recalled_at``), oldest first."""
    return sorted(datetime.fromisoformat(t) for t in moment.recalled_at)


@transaction.atomic
def note_recalled(*, recalls: Iterable[tuple[int, datetime]]) -> list[int]:
    """The customer recalled these moments unprompted: ``(moment id, when)`` pairs, e.g. the
    moments a survey answer picked as what stood out, at the time of the answer. That is the
    strongest evidence a moment is remembered, so each recall is a refresh of the moment at
    that time, like a later moment on the same tag (docs/memory-model.md, "Recalled by the
    customer"). The recall forecasts and memory balance of the customers concerned and their
    journey rollup days are recomputed.

    Idempotent per recall: a moment already recalled at that very time is left as it is, so a
    caller that keys the time by its source (an answer's time) can process that source again
    and refresh once. Moments locked in id order, so concurrent calls wait for each other.
    Unknown moments and recalls not after the moment are ignored; a dismissed moment keeps the
    recall (it counts again if an agent restores the moment). Returns the ids of the moments
    that gained a recall.
    """
    wanted: dict[int, set[datetime]] = defaultdict(set)
    for moment_id, at in recalls:
        wanted[moment_id].add(at)
    moments = Moment.objects.select_for_update().filter(pk__in=list(wanted)).order_by("pk")
    changed: list[Moment] = []
    for moment in moments:
        known = set(recall_times(moment))
        new = {at for at in wanted[moment.pk] if at > moment.occurred_at} - known
        if new:
            moment.recalled_at = [t.astimezone(UTC).isoformat() for t in sorted(known | new)]
            changed.append(moment)
    if not changed:
        return []
    Moment.objects.bulk_update(changed, ["recalled_at"])
    customer_ids = sorted({m.customer_id for m in changed})
    for customer_id in customer_ids:
        refresh_customer_memory(customer_id=customer_id, rollup=False)
    journey_rollup.refresh_customers(customer_ids)  # as detect_moments: all days at once
    return [m.pk for m in changed]


# --- Scores: impact, recall, balance -----------------------------------------------------


@transaction.atomic
def refresh_customer_memory(
    *, customer_id: int, now: datetime | None = None, rollup: bool = True
) -> CustomerMemory:
    """Recompute, for one customer, every live moment's polarity, intensity, impact and recall
    forecast (refreshes = later moments sharing a tag, and the times the customer recalled the
    moment: ``note_recalled``), then the memory balance and trend, and
    (unless ``rollup`` is False: the caller does it) the journey rollup of every day the
    customer has a moment on, since all their moments' figures were just rewritten.

    Called by every write above and by the scheduled refresh (memory fades as days pass).
    Reads the current tag weights and stage weights, so reweighting by an admin takes effect at
    the next refresh.
    """
    now = now or timezone.now()
    params = parameters.current()  # settings, or the applied fit
    moments = list(
        Moment.objects.live()
        .filter(customer_id=customer_id)
        .select_related("interaction", "stage")
        .order_by("occurred_at", "pk")
    )
    tags_of: dict[int, list[MomentTag]] = defaultdict(list)
    for tagging in MomentTagging.objects.filter(moment__in=moments).select_related("tag"):
        tags_of[tagging.moment_id].append(tagging.tag)
    remembered: list[scoring.Remembered] = []
    for i, m in enumerate(moments):
        tags = tags_of[m.pk]
        if m.interaction is not None:
            score, confidence = m.interaction.sentiment_score, m.interaction.sentiment_confidence
        else:  # a survey answer's moment keeps the answer's sentiment (none: made by hand)
            score, confidence = m.source_score, m.source_confidence
        m.polarity = scoring.polarity(
            score,
            neutral_band=settings.MEMORY_NEUTRAL_BAND,
            tag_polarities=[t.polarity for t in tags],
        )
        m.intensity = scoring.moment_intensity(
            score,
            confidence,
            vouched=bool(tags) or detection.AGENT in m.reason_codes,
            floor=settings.MEMORY_DEFAULT_INTENSITY,
        )
        m.impact = scoring.impact(
            tag_weights=[t.weight for t in tags],
            intensity=m.intensity,
            stage_weight=m.stage.weight if m.stage else 1.0,
            polarity=m.polarity,
            params=params,
        )
        tag_ids = {t.pk for t in tags}
        refreshes = scoring.refresh_times(
            occurred_at=m.occurred_at,
            now=now,
            mentioned_at=[
                later.occurred_at
                for later in moments[i + 1 :]
                if tag_ids & {t.pk for t in tags_of[later.pk]}
            ],
            recalled_at=recall_times(m),
        )
        f = scoring.forecast(
            occurred_at=m.occurred_at,
            now=now,
            intensity=m.intensity,
            impact=m.impact,
            refreshed_at=refreshes,
            params=params,
        )
        m.stability_days = f.stability_days
        m.refresh_count = len(refreshes)
        m.refreshed_at = refreshes[-1] if refreshes else None
        m.recall_now, m.recall_7 = f.now, f.at_7
        m.recall_30, m.recall_365 = f.at_30, f.at_365
        m.computed_at = now
        remembered.append(
            scoring.Remembered(
                occurred_at=m.occurred_at,
                impact=m.impact,
                stability_days=m.stability_days,
                refreshed_at=refreshes,
            )
        )
    Moment.objects.bulk_update(
        moments,
        ["polarity", "intensity", "impact", *Moment.RECALL_FIELDS],
        batch_size=500,
    )
    state = scoring.balance_state(remembered, now=now, params=params)
    memory, _ = CustomerMemory.objects.update_or_create(
        customer_id=customer_id,
        defaults={
            "balance": state.balance,
            "previous_balance": state.previous,
            "trend": state.trend,
            "at_risk": state.at_risk,
            "moment_count": len(moments),
            "computed_at": now,
        },
    )
    if rollup:
        journey_rollup.refresh_customers([customer_id])
    return memory


def refresh_interaction_memory(*, interaction_id: int) -> CustomerMemory | None:
    """Recompute the memory of the customer whose live moment this interaction is (its
    sentiment was just corrected: the moment's polarity and impact follow the new score);
    nothing if it is no live moment. Returns the customer's memory, or None."""
    customer_id = (
        Moment.objects.live()
        .filter(interaction_id=interaction_id)
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return None
    return refresh_customer_memory(customer_id=customer_id)


def refresh_all_memory(*, chunk: int = 500) -> int:
    """The scheduled refresh: recompute every customer with moments, one transaction each
    (keyset over customer id, so it never holds a long lock), then rebuild the journey rollup
    once: every moment's recall changed, and recomputing each customer's days as it goes would
    recompute every day once per customer. Returns how many customers."""
    done = 0
    last = 0
    while True:
        ids = list(
            Moment.objects.filter(customer_id__gt=last)
            .order_by("customer_id")
            .values_list("customer_id", flat=True)
            .distinct()[:chunk]
        )
        if not ids:
            break
        for customer_id in ids:
            refresh_customer_memory(customer_id=customer_id, rollup=False)
        done += len(ids)
        last = ids[-1]
    journey_rollup.rebuild()
    return done

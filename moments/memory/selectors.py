"""Reads of memory moments that depend on who asks or span models: a customer's memory
summary, its balance over time, versions for live refresh, and memory at risk. The journey
map's reads are moments.memory.selectors_journey. Who may see which moments is moments.access."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from customers.access import customers_visible_to
from customers.models import Customer, Interaction
from moments.access import User, sees_every_customer
from moments.memory import parameters, scoring, story
from moments.models import CustomerMemory, Moment, MomentTag, MomentTagging, TagCategory

# --- Lists -------------------------------------------------------------------------------


def moments_for_list(queryset: QuerySet[Moment]) -> QuerySet[Moment]:
    """What a list of moments shows, in a constant number of queries."""
    return queryset.select_related("customer", "stage", "interaction").prefetch_related("tags")


def tags_for_tagging() -> QuerySet[MomentTag]:
    return MomentTag.objects.active().select_related("category")


# --- A customer's memory ------------------------------------------------------------------


@dataclass
class Remembered:
    moment: Moment
    tags: list[MomentTag] = field(default_factory=list)  # the moment's tags, for the panel

    @property
    def likely_remembered(self) -> float:
        return self.moment.likely_remembered


@dataclass(frozen=True)
class BalancePoint:
    at: datetime
    balance: float


@dataclass
class MemorySummary:
    customer: Customer
    balance: float = 0.0
    trend: float = 0.0
    at_risk: bool = False
    moment_count: int = 0
    computed_at: datetime | None = None
    top: list[Remembered] = field(default_factory=list)
    story: story.Story = field(default_factory=lambda: story.tell([], balance=0.0))
    history: list[BalancePoint] = field(default_factory=list)

    @property
    def direction(self) -> str:
        if self.trend > 0.01:
            return "rising"
        if self.trend < -0.01:
            return "falling"
        return "steady"


# How many of the customer's latest moments are considered for "what they will remember":
# enough for any real customer; bounded so a pathological one cannot slow the page.
SUMMARY_CANDIDATES = 500


def memory_summary(customer: Customer, *, top: int = 5) -> MemorySummary:
    """Balance, trend, at-risk, the balance in a sentence, and the moments most likely
    remembered in 30 days, weighted by |impact| (two queries, plus one for their tags)."""
    params = parameters.current()  # settings, or the applied fit
    memory = CustomerMemory.objects.filter(customer=customer).first()
    summary = MemorySummary(customer=customer)
    if memory is not None:
        summary.balance, summary.trend = memory.balance, memory.trend
        summary.at_risk, summary.moment_count = memory.at_risk, memory.moment_count
        summary.computed_at = memory.computed_at
    candidates = list(
        Moment.objects.live()
        .filter(customer=customer)
        .select_related("stage", "interaction")
        .order_by("-occurred_at", "-pk")[:SUMMARY_CANDIDATES]
    )
    # The balance's own terms (impact x recall when it was computed), so the sentence agrees
    # with the stored balance.
    summary.story = story.tell(
        [
            story.Weighed(m.occurred_at, m.impact * m.recall_now)
            for m in candidates
            if m.recall_now >= params.recall_floor
        ],
        balance=summary.balance,
    )
    ranked = sorted(
        (Remembered(m) for m in candidates),
        key=lambda r: (r.likely_remembered * (abs(r.moment.impact) or 1e-6), r.moment.occurred_at),
        reverse=True,
    )[:top]
    chosen = {r.moment.pk: r for r in ranked}
    for tagging in MomentTagging.objects.filter(moment_id__in=list(chosen)).select_related("tag"):
        chosen[tagging.moment_id].tags.append(tagging.tag)
    summary.top = ranked
    end = summary.computed_at or timezone.now()
    summary.history = balance_history(candidates, end=end, params=params)
    return summary


# Evenly spaced samples of the balance over time, plus one just after each moment (its jump).
HISTORY_SAMPLES = 24
HISTORY_MOMENTS = 60


def balance_history(
    moments: list[Moment], *, end: datetime, params: scoring.MemoryParams
) -> list[BalancePoint]:
    """The customer's memory balance from their first moment to ``end`` (the time the stored
    balance was computed, so the last point is that balance), from the moments' stored impact
    and stability: no query. A moment row keeps its refresh count and its last refresh only,
    so the curve is exact from each moment's last refresh on; before it, the earlier refreshes
    are counted at the last one's time (a close, slightly low reading). Empty without moments."""
    moments = [m for m in moments if m.occurred_at <= end]
    if not moments:
        return []
    remembered = [
        scoring.Remembered(
            occurred_at=m.occurred_at,
            impact=m.impact,
            stability_days=m.stability_days,
            refreshed_at=(m.refreshed_at,) * m.refresh_count if m.refreshed_at else (),
        )
        for m in moments
    ]
    start = min(m.occurred_at for m in moments)
    step = (end - start) / HISTORY_SAMPLES
    times = {start + step * i for i in range(HISTORY_SAMPLES)} | {end}
    times |= {m.occurred_at for m in moments[:HISTORY_MOMENTS]}  # the latest moments' jumps
    return [
        BalancePoint(at=t, balance=scoring.balance(remembered, at=t, params=params))
        for t in sorted(times)
    ]


def memory_version(customer: Customer) -> str:
    """A short token that changes whenever anything the customer page's memory panel, chart
    or markers show may have changed: a memory recomputation (every moment write and the
    scheduled refresh), an interaction scored, corrected or logged, a moment created or
    dismissed. Values read from the database only (no clock of this process).
    The page polls with the token it has and is sent fresh fragments only when it differs
    (three queries)."""
    interactions = Interaction.objects.filter(customer=customer).aggregate(
        scored=Max("scored_at"), count=Count("id")
    )
    moments = Moment.objects.filter(customer=customer).aggregate(
        updated=Max("updated_at"), count=Count("id")
    )
    computed = (
        CustomerMemory.objects.filter(customer=customer)
        .values_list("computed_at", flat=True)
        .first()
    )
    state = "|".join(str(v) for v in (*interactions.values(), *moments.values(), computed))
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def item_version(interaction: Interaction, moment: Moment | None) -> str:
    """A short token of what a timeline item's sentiment badge and moment marker show, so the
    memory sync replaces only the items that changed (a replaced marker loses a half-made
    choice, and an action in flight on it would land on the removed element). Reads the
    moment's tags: load it through ``moments_by_interaction``."""
    state: tuple = (interaction.scored_at, interaction.sentiment_label, interaction.sentiment_model)
    if moment is not None:
        state += (
            moment.pk,
            moment.dismissed,
            moment.polarity,
            round(moment.impact, 2),
            moment.likely_remembered_percent,
            tuple(moment.reason_codes),
            tuple(sorted(t.pk for t in moment.tags.all())),
        )
    return hashlib.sha256(repr(state).encode()).hexdigest()[:12]


def moments_by_interaction(interaction_ids: list[int]) -> dict[int, Moment]:
    """The moments of a page of timeline items, with their tags: two queries per page."""
    return {
        m.interaction_id: m
        for m in Moment.objects.filter(interaction_id__in=interaction_ids).prefetch_related("tags")
    }


def memory_at_risk(user: User, *, limit: int = 25) -> list[CustomerMemory]:
    """Customers whose memory balance is negative and falling, worst first (reads the stored
    balance rows through a partial index, never the moments)."""
    memories = CustomerMemory.objects.filter(at_risk=True)
    if not sees_every_customer(user):
        # Only when the user sees some customers: for everyone else (managers) the semi-join
        # with every customer would cost a scan of the customer table for nothing.
        memories = memories.filter(customer__in=customers_visible_to(user))
    return list(memories.select_related("customer").order_by("balance", "customer_id")[:limit])


def categories() -> QuerySet[TagCategory]:
    return TagCategory.objects.prefetch_related("tags")

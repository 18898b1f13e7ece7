"""Memory scoring: pure functions, no database. The model is written up in docs/memory-model.md.

Three quantities, each a small formula whose parameters are settings (``MEMORY_*``):

**Impact** of a moment (signed; negative moments are negative)::

    magnitude = (1 + sum of tag weights) x intensity x stage weight
    impact    = +magnitude                    for a positive moment
              = -magnitude x LOSS_AVERSION    for a negative moment (losses loom larger)
              = 0                             for a neutral one

where ``intensity = |sentiment score| x confidence`` (in [0, 1]), at least
``DEFAULT_INTENSITY`` for a moment an agent promoted or that carries tags.

**Recall forecast**: an exponential forgetting curve ``R(t) = exp(-t / S)`` over the days ``t``
since the moment happened (or since it was last refreshed), whose stability ``S`` (days) grows
with emotional intensity and impact::

    S = BASE_STABILITY x (1 + INTENSITY_GAIN x intensity) x (1 + IMPACT_GAIN x ln(1 + |impact|))

A *refresh* resets the memory to full strength and multiplies the stability by
``REFRESH_BOOST`` (spaced repetition: each reminder makes it fade more slowly). Two things
refresh a moment (``refresh_times``): a later moment of the same customer with a tag in common
(they brought the same thing up again), and the customer *recalling* it unprompted: picking it
as what stood out in a survey answer, the strongest evidence that it is remembered.

**Memory balance** of a customer at a time: peak-end weighting of what they still remember.
Each moment still recalled above ``RECALL_FLOOR`` contributes ``c = impact x recall``; then::

    balance = PEAK_WEIGHT x c(peak) + END_WEIGHT x c(end) + (1 - PEAK_WEIGHT - END_WEIGHT) x mean(c)

with *peak* the moment with the largest |c| and *end* the most recent one. The *trend* is the
balance now minus the balance ``TREND_DAYS`` ago; a customer is *memory at risk* when the
balance is below ``AT_RISK_BALANCE`` and the trend below ``-AT_RISK_DROP``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

POSITIVE, NEGATIVE, NEUTRAL = "positive", "negative", "neutral"
HORIZONS = (7, 30, 365)  # days after the moment for the stored forecast
DAY = 86400.0


@dataclass(frozen=True)
class MemoryParams:
    """The model's parameters; ``from_settings()`` reads the MEMORY_* settings."""

    loss_aversion: float = 2.0
    base_stability_days: float = 7.0
    intensity_gain: float = 4.0
    impact_gain: float = 1.0
    refresh_boost: float = 2.0
    peak_weight: float = 0.5
    end_weight: float = 0.3
    recall_floor: float = 0.05
    trend_days: int = 30
    at_risk_balance: float = 0.0
    at_risk_drop: float = 0.0

    @classmethod
    def from_settings(cls) -> MemoryParams:
        return cls(
            loss_aversion=settings.MEMORY_LOSS_AVERSION,
            base_stability_days=settings.MEMORY_BASE_STABILITY_DAYS,
            intensity_gain=settings.MEMORY_INTENSITY_GAIN,
            impact_gain=settings.MEMORY_IMPACT_GAIN,
            refresh_boost=settings.MEMORY_REFRESH_BOOST,
            peak_weight=settings.MEMORY_PEAK_WEIGHT,
            end_weight=settings.MEMORY_END_WEIGHT,
            recall_floor=settings.MEMORY_RECALL_FLOOR,
            trend_days=settings.MEMORY_TREND_DAYS,
            at_risk_balance=settings.MEMORY_AT_RISK_BALANCE,
            at_risk_drop=settings.MEMORY_AT_RISK_DROP,
        )


# --- Impact ---------------------------------------------------------------------------------


def intensity(score: float | None, confidence: float | None) -> float:
    """Emotional intensity in [0, 1]: how strongly and how surely the text is charged."""
    if score is None:
        return 0.0
    conf = 1.0 if confidence is None else confidence
    return max(0.0, min(1.0, abs(score) * conf))


def moment_intensity(
    score: float | None, confidence: float | None, *, vouched: bool, floor: float
) -> float:
    """A moment's intensity. One an agent promoted or that carries tags is memorable by a
    person's or a rule's judgement even when its text reads flat: at least ``floor`` then (also
    the value for a promoted interaction not scored yet)."""
    if score is None:
        return floor
    value = intensity(score, confidence)
    return max(value, floor) if vouched else value


def polarity(
    score: float | None, *, neutral_band: float, tag_polarities: Iterable[str] = ()
) -> str:
    """The moment's sign: the sentiment's when it is clear of the neutral band, else the one
    its tags agree on (an agent tagging "broken promise" on a flat text), else neutral."""
    if score is not None and abs(score) >= neutral_band:
        return POSITIVE if score > 0 else NEGATIVE
    signs = {p for p in tag_polarities if p in (POSITIVE, NEGATIVE)}
    if len(signs) == 1:
        return signs.pop()
    return NEUTRAL


def impact(
    *,
    tag_weights: Iterable[float],
    intensity: float,
    stage_weight: float,
    polarity: str,
    params: MemoryParams,
) -> float:
    """Signed impact: (1 + sum of tag weights) x intensity x stage weight, negative moments
    multiplied by the loss-aversion factor. Untagged moments still count (the 1)."""
    magnitude = (1.0 + sum(tag_weights)) * intensity * stage_weight
    if polarity == NEGATIVE:
        return -magnitude * params.loss_aversion
    if polarity == POSITIVE:
        return magnitude
    return 0.0


# --- Recall ---------------------------------------------------------------------------------


def stability(*, intensity: float, impact: float, params: MemoryParams) -> float:
    """Days for the memory to fall to 1/e of its strength, before any refresh."""
    return (
        params.base_stability_days
        * (1.0 + params.intensity_gain * intensity)
        * (1.0 + params.impact_gain * math.log1p(abs(impact)))
    )


def refresh_times(
    *,
    occurred_at: datetime,
    now: datetime,
    mentioned_at: Iterable[datetime] = (),
    recalled_at: Iterable[datetime] = (),
) -> tuple[datetime, ...]:
    """When a moment was refreshed, in order: each later mention of the same thing (a later
    moment sharing a tag) and each time the customer recalled it (picked it in a survey
    answer), after the moment and by ``now`` (a refresh still to come does not count yet)."""
    return tuple(sorted(t for t in (*mentioned_at, *recalled_at) if occurred_at < t <= now))


def recall(
    *,
    age_days: float,
    stability_days: float,
    refresh_ages: Sequence[float] = (),
    params: MemoryParams,
) -> float:
    """Expected strength of the memory in [0, 1] ``age_days`` after the moment.

    ``refresh_ages``: days after the moment at which it was refreshed (only those already past
    at ``age_days`` count). Each resets strength to 1 and multiplies stability by the boost.
    """
    past = sorted(a for a in refresh_ages if 0 <= a <= age_days)
    return recall_after(
        age_days=age_days,
        stability_days=stability_days,
        refresh_count=len(past),
        last_refresh_age=past[-1] if past else 0.0,
        params=params,
    )


def recall_after(
    *,
    age_days: float,
    stability_days: float,
    refresh_count: int,
    last_refresh_age: float,
    params: MemoryParams,
) -> float:
    """``recall`` from what a Moment row stores: how many refreshes, and when the last was."""
    if age_days <= 0:
        return 1.0
    since = max(0.0, age_days - last_refresh_age)
    effective = stability_days * params.refresh_boost**refresh_count
    if effective <= 0:
        return 0.0
    return math.exp(-since / effective)


# The one recall figure agents and integrators see: "likely remembered in 30 days".
LIKELY_REMEMBERED_DAYS = 30


def likely_remembered(
    *,
    occurred_at: datetime,
    as_of: datetime,
    stability_days: float,
    refresh_count: int,
    refreshed_at: datetime | None,
    params: MemoryParams,
) -> float:
    """Forecast recall ``LIKELY_REMEMBERED_DAYS`` after ``as_of`` (the time the forecast was
    made), from what a Moment row stores. Agents ask "will they still remember this next
    month?", so the horizon counts from the forecast, not from the moment: one figure, the same
    on the timeline marker, the memory panel, the journey drill-down and the API (the others,
    recall now and 7 / 30 / 365 days after the moment, are details)."""
    when = as_of + timedelta(days=LIKELY_REMEMBERED_DAYS)
    last = refreshed_at or occurred_at
    return recall_after(
        age_days=_days(when - occurred_at),
        stability_days=stability_days,
        refresh_count=refresh_count,
        last_refresh_age=_days(last - occurred_at),
        params=params,
    )


@dataclass(frozen=True)
class Forecast:
    stability_days: float
    now: float
    days: dict[int, float]  # horizon (days after the moment) -> recall

    @property
    def at_7(self) -> float:
        return self.days[7]

    @property
    def at_30(self) -> float:
        return self.days[30]

    @property
    def at_365(self) -> float:
        return self.days[365]


def forecast(
    *,
    occurred_at: datetime,
    now: datetime,
    intensity: float,
    impact: float,
    refreshed_at: Sequence[datetime] = (),
    params: MemoryParams,
) -> Forecast:
    """Recall now and 7, 30 and 365 days after the moment, counting the refreshes known now."""
    s = stability(intensity=intensity, impact=impact, params=params)
    ages = [(r - occurred_at).total_seconds() / DAY for r in refreshed_at]
    return Forecast(
        stability_days=s,
        now=recall(
            age_days=_days(now - occurred_at), stability_days=s, refresh_ages=ages, params=params
        ),
        days={
            h: recall(age_days=h, stability_days=s, refresh_ages=ages, params=params)
            for h in HORIZONS
        },
    )


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / DAY


# --- Balance --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remembered:
    """What the balance needs to know about one moment."""

    occurred_at: datetime
    impact: float
    stability_days: float
    refreshed_at: tuple[datetime, ...] = field(default_factory=tuple)

    def recall_at(self, when: datetime, params: MemoryParams) -> float:
        if when < self.occurred_at:
            return 0.0  # not happened yet
        ages = [_days(r - self.occurred_at) for r in self.refreshed_at if r <= when]
        return recall(
            age_days=_days(when - self.occurred_at),
            stability_days=self.stability_days,
            refresh_ages=ages,
            params=params,
        )


def balance(moments: Iterable[Remembered], *, at: datetime, params: MemoryParams) -> float:
    """Peak-end weighted, signed memory of the moments still recalled at ``at`` (0 if none)."""
    contributions: list[tuple[datetime, float]] = []
    for m in moments:
        r = m.recall_at(at, params)
        if r >= params.recall_floor and m.occurred_at <= at:
            contributions.append((m.occurred_at, m.impact * r))
    if not contributions:
        return 0.0
    # Ties on |c| go to the negative one: of two equally strong memories, the bad one dominates.
    peak = max(contributions, key=lambda oc: (abs(oc[1]), -oc[1]))[1]
    end = max(contributions, key=lambda oc: oc[0])[1]
    mean = sum(c for _, c in contributions) / len(contributions)
    rest = max(0.0, 1.0 - params.peak_weight - params.end_weight)
    return params.peak_weight * peak + params.end_weight * end + rest * mean


@dataclass(frozen=True)
class BalanceState:
    balance: float
    previous: float
    trend: float
    at_risk: bool


def balance_state(
    moments: Sequence[Remembered], *, now: datetime, params: MemoryParams
) -> BalanceState:
    """Balance now, ``trend_days`` ago, the trend, and whether the customer is memory at risk:
    negative and falling."""
    current = balance(moments, at=now, params=params)
    previous = balance(moments, at=now - timedelta(days=params.trend_days), params=params)
    trend = current - previous
    return BalanceState(
        balance=current,
        previous=previous,
        trend=trend,
        at_risk=current < params.at_risk_balance and trend < -params.at_risk_drop,
    )

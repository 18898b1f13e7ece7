"""The journey map's reads: the heatmap of stages x tags (from the daily rollup, a constant
number of queries), a sentence per cell, a cell's moments, and moments per week by polarity.
Moved out of moments.memory.selectors (which re-exports them) to keep each module short."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Sum
from django.db.models.functions import Abs, TruncWeek
from django.utils import timezone

from customers.access import customers_visible_to
from customers.models import JourneyStage
from moments.access import User, moments_visible_to
from moments.memory import rollup
from moments.memory.selectors import moments_for_list
from moments.models import Moment, MomentTag

# --- Journey heatmap ----------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapFilter:
    """Whole days in TIME_ZONE (the journey rollup's unit), both ends included."""

    date_from: date | None = None
    date_to: date | None = None
    polarity: str = ""  # "", positive, negative, neutral

    def moment_filter(self, prefix: str = "") -> dict:
        """Filter kwargs on Moment (or, with prefix "moment__", on MomentTagging)."""
        filters: dict = {f"{prefix}dismissed": False}
        tz = timezone.get_default_timezone()  # the rollup's days
        if self.date_from:
            start = datetime.combine(self.date_from, time.min, tzinfo=tz)
            filters[f"{prefix}occurred_at__gte"] = start
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=tz)
            filters[f"{prefix}occurred_at__lt"] = end
        if self.polarity:
            filters[f"{prefix}polarity"] = self.polarity
        return filters


@dataclass
class Cell:
    stage_id: int | None
    tag_id: int | None  # None: the moments without a tag
    count: int = 0
    mean_impact: float = 0.0
    remembered_impact: float = 0.0  # sum of impact x recall now, over count


@dataclass
class Heatmap:
    stages: list[JourneyStage]
    tags: list[MomentTag]
    cells: dict[tuple[int | None, int | None], Cell]
    filter: HeatmapFilter

    def cell(self, stage_id: int | None, tag_id: int | None) -> Cell:
        return self.cells.get((stage_id, tag_id)) or Cell(stage_id, tag_id)

    @property
    def rows(self) -> list[dict]:
        """One row per stage, one cell per tag then the untagged column (for templates), each
        cell with its colour band (``tone``) and a sentence saying what it means."""
        columns: list[MomentTag | None] = [*self.columns, None]
        return [
            {
                "stage": s,
                "cells": [
                    self._shown(s, tag, self.cell(s.pk, tag.pk if tag else None)) for tag in columns
                ],
            }
            for s in self.stages
        ]

    @property
    def columns(self) -> list[MomentTag]:
        """The tags as the page's columns: those with the most moments first (the busy part of
        the map is what a phone shows before scrolling), then in the taxonomy's order."""
        totals: dict[int | None, int] = {}
        for (_, tag_id), cell in self.cells.items():
            totals[tag_id] = totals.get(tag_id, 0) + cell.count
        return sorted(self.tags, key=lambda t: -totals.get(t.pk, 0))

    def _shown(self, stage: JourneyStage, tag: MomentTag | None, cell: Cell) -> dict:
        return {"cell": cell, "tone": self.tone(cell), "sentence": cell_sentence(stage, tag, cell)}

    @property
    def thresholds(self) -> tuple[float, float]:
        """Mean impacts that separate the colour bands: below the first a cell has little
        effect, from the second on a strong one (fractions of the largest mean impact shown,
        so the scale always spans the map)."""
        top = self.max_abs_impact
        return round(top * WEAK, 2), round(top * STRONG, 2)

    def tone(self, cell: Cell) -> str:
        if not cell.count:
            return "none"
        weak, strong = self.thresholds
        size = abs(cell.mean_impact)
        if size < weak:
            return "flat"
        side = "negative" if cell.mean_impact < 0 else "positive"
        return f"strong-{side}" if size >= strong else side

    @property
    def legend(self) -> list[tuple[str, str]]:
        """The colour bands, damaging to building, with the mean impacts each covers."""
        weak, strong = self.thresholds
        return [
            ("strong-negative", f"strongly damages (≤ −{strong:.2f})"),
            ("negative", "damages"),
            ("flat", f"little effect (within ±{weak:.2f})"),
            ("positive", "builds"),
            ("strong-positive", f"strongly builds (≥ {strong:.2f})"),
        ]

    @property
    def max_abs_impact(self) -> float:
        return max((abs(c.mean_impact) for c in self.cells.values()), default=0.0) or 1.0

    def as_dict(self) -> dict:
        return {
            "stages": [{"id": s.pk, "name": s.name, "slug": s.slug} for s in self.stages],
            "tags": [
                {"id": t.pk, "name": t.name, "slug": t.slug, "polarity": t.polarity}
                for t in self.tags
            ],
            "cells": [
                {
                    "stage": c.stage_id,
                    "tag": c.tag_id,
                    "count": c.count,
                    "mean_impact": round(c.mean_impact, 4),
                    "remembered_impact": round(c.remembered_impact, 4),
                }
                for c in self.cells.values()
            ],
        }


def heatmap_aggregates(flt: HeatmapFilter, *, user: User) -> list[dict]:
    """The stage x tag cells the user may see: ``stage_id``, ``tag_id`` (None: untagged),
    ``count``, ``total_impact`` and ``total_remembered`` (sum of impact x recall now). A moment
    with two tags counts in both cells.

    Who sees every customer (managers; everyone with the default visibility) reads the daily
    rollup: one GROUP BY over a few rows per day, whatever the number of moments. Who sees only
    some customers (agents with owned visibility) gets the same aggregate computed live over
    their customers' moments: the rollup sums every customer, and keying it by owner too would
    go stale whenever a customer changes hands (edits, imports), which no moment write sees;
    one agent's customers are few and reached through indexes (customer owner, then moments by
    customer). Nobody visible: no cells.
    """
    visible = customers_visible_to(user)
    if visible.query.is_empty():
        return []
    if not visible.query.has_filters():
        return list(
            rollup.aggregates(date_from=flt.date_from, date_to=flt.date_to, polarity=flt.polarity)
        )
    return list(
        Moment.objects.filter(customer__in=visible, **flt.moment_filter())
        .values("stage_id", tag_id=F("taggings__tag_id"))
        .annotate(
            count=Count("id"),
            total_impact=Sum("impact"),
            total_remembered=Sum(F("impact") * F("recall_now")),
        )
        .order_by()
    )


def journey_heatmap(flt: HeatmapFilter, *, user: User) -> Heatmap:
    """Stage x tag: count, mean impact and recall-weighted impact, over the customers the user
    may see. Three queries whatever the data size (stages, tags, the aggregate). Moments without
    a stage are left out of the rows (the map is by stage). Retired tags appear only where they
    have moments."""
    stages = list(JourneyStage.objects.all())
    cells: dict[tuple[int | None, int | None], Cell] = {}
    for row in heatmap_aggregates(flt, user=user):
        key = (row["stage_id"], row["tag_id"])
        cells[key] = _cell(key, row)
    used = {tag_id for (_, tag_id) in cells if tag_id is not None}
    tags = [t for t in MomentTag.objects.order_by("order", "name") if t.active or t.pk in used]
    return Heatmap(stages=stages, tags=tags, cells=cells, filter=flt)


# The colour bands' edges, as fractions of the largest |mean impact| on the map.
WEAK, STRONG = 0.15, 0.5


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def cell_sentence(stage: JourneyStage, tag: MomentTag | None, cell: Cell) -> str:
    """What a heatmap cell says, in words (its tooltip and its screen-reader text)."""
    where = f"{stage.name}, tagged {tag.name}" if tag else f"{stage.name}, with no tag"
    if not cell.count:
        return f"{where}: no moments."
    moments = f"{cell.count} moment{'s' if cell.count != 1 else ''}"
    one = cell.count == 1
    if cell.mean_impact < 0:
        effect = "damages memories" if one else "damage memories"
    elif cell.mean_impact > 0:
        effect = "builds memories" if one else "build memories"
    else:
        effect = "leaves no mark" if one else "leave no mark"
    return (
        f"{where}: {moments} that {effect} (mean impact {_signed(cell.mean_impact)}; "
        f"{_signed(cell.remembered_impact)} still remembered today)."
    )


def _cell(key: tuple[int | None, int | None], row: dict) -> Cell:
    count = row["count"]
    return Cell(
        stage_id=key[0],
        tag_id=key[1],
        count=count,
        mean_impact=(row["total_impact"] or 0.0) / count if count else 0.0,
        remembered_impact=(row["total_remembered"] or 0.0) / count if count else 0.0,
    )


def cell_moments(
    user: User, *, stage: JourneyStage, tag: MomentTag | None, flt: HeatmapFilter, limit: int = 50
) -> list[Moment]:
    """The moments behind one heatmap cell (tag None: the untagged ones), strongest |impact|
    first, at most ``limit``."""
    queryset = moments_visible_to(user).filter(stage=stage, **flt.moment_filter())
    if tag is None:
        queryset = queryset.filter(taggings__isnull=True)
    else:
        queryset = queryset.filter(taggings__tag=tag)
    strongest = moments_for_list(queryset).order_by(Abs("impact").desc(), "-occurred_at", "-pk")
    return list(strongest[:limit])


TREND_WEEKS = 12


@dataclass
class WeekTrend:
    """Moments per week by polarity: ``weeks`` is one (Monday, counts by polarity) per week,
    oldest first, empty weeks included."""

    weeks: list[tuple[date, dict[str, int]]]

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for _, counts in self.weeks)

    def by_polarity(self) -> dict[str, int]:
        sums = {"positive": 0, "neutral": 0, "negative": 0}
        for _, counts in self.weeks:
            for key, n in counts.items():
                sums[key] = sums.get(key, 0) + n
        return sums

    def busiest(self) -> tuple[date, int] | None:
        if not self.total:
            return None
        week, counts = max(self.weeks, key=lambda w: (sum(w[1].values()), w[0]))
        return week, sum(counts.values())


def moments_per_week(
    flt: HeatmapFilter, *, user: User, weeks: int = TREND_WEEKS, today: date | None = None
) -> WeekTrend:
    """The live moments of the ``weeks`` weeks (Monday to Sunday, in TIME_ZONE like the map's
    days) ending with the filter's last day (else today), counted by polarity, over the
    customers the user may see. Every polarity, whatever the map's polarity filter: the trend
    compares them. One GROUP BY over the moments of those weeks (an index range on
    occurred_at): distinct moments, which the rollup cannot give (a moment with two tags has
    two rollup rows)."""
    zone = timezone.get_default_timezone()
    last = flt.date_to or today or timezone.localdate(timezone=zone)
    first_monday = last - timedelta(days=last.weekday()) - timedelta(weeks=weeks - 1)
    visible = customers_visible_to(user)
    counts: dict[date, dict[str, int]] = {
        first_monday + timedelta(weeks=i): {} for i in range(weeks)
    }
    if not visible.query.is_empty():
        moments = Moment.objects.filter(
            dismissed=False,
            occurred_at__gte=datetime.combine(first_monday, time.min, tzinfo=zone),
            occurred_at__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
        )
        if visible.query.has_filters():
            moments = moments.filter(customer__in=visible)
        rows = (
            moments.annotate(week=TruncWeek("occurred_at", tzinfo=zone))
            .values("week", "polarity")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            week = row["week"]
            week = week.date() if isinstance(week, datetime) else week
            if week in counts:
                counts[week][row["polarity"]] = row["n"]
    return WeekTrend(weeks=sorted(counts.items()))

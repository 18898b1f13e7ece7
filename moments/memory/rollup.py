"""The journey map's daily rollup (``JourneyRollup``): live moments aggregated by day, stage,
tag and polarity, so the dashboard and the heatmap API read a few rows per day instead of
every moment.

Exactly consistent with the moments, because it is never adjusted, only recomputed: whenever
moments change, the days they fall on are deleted and recomputed from the moments in one
INSERT ... SELECT ... GROUP BY, in the same transaction as the change:

* the memory services (detect, promote or restore, tag, untag, set tags, dismiss) end with
  ``refresh_customer_memory``, which rewrites the impact and recall of *every* live moment of
  the customer, so it refreshes every day the customer has a moment on (``refresh_customers``);
* deleting moments (a customer, an interaction or a survey answer deleted, the admin) is seen
  by a ``post_delete`` receiver, which refreshes their days once the deletion commits
  (``refresh_days_on_commit``: a cascade deletes many moments, and each day is done once);
* an admin's edit of a moment refreshes its customer and the day it was on before;
* recall fades as days pass: the scheduled memory refresh rewrites every moment's recall and
  then rebuilds the whole rollup (``rebuild``, also ``manage.py rebuild_journey_rollup``).

A day is a calendar day in ``TIME_ZONE`` (the date filter's unit); after changing TIME_ZONE,
rebuild. Concurrent refreshes of the same days are serialised by a PostgreSQL advisory lock per
month, taken before the delete and held to the commit: under READ COMMITTED each statement
after the lock sees every earlier refresh committed, so the last writer's recomputation counts
every committed moment and no day is ever written twice (a unique index would refuse it).
SQLite serialises writers by itself.
"""

from __future__ import annotations

import functools
import threading
import time as clock
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connections, router, transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from moments.models import JourneyRollup, Moment

# pg_advisory_xact_lock(key, month): "JROL", so no other lock in the database shares it.
LOCK_KEY = 0x4A524F4C
# Source rows are found by an index range on occurred_at a day wider than the days, then
# kept by the same day expression the rows are grouped by: the day is computed once, by the
# database, whatever Python's and the database's time zone tables say.
MARGIN = timedelta(days=1)

Span = tuple[date, date]  # first and last day, inclusive


def _zone():
    return timezone.get_default_timezone()


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in TIME_ZONE."""
    return datetime.combine(day, time.min, tzinfo=_zone())


def _with_day(queryset: QuerySet[Moment]) -> QuerySet[Moment]:
    return queryset.annotate(rollup_day=TruncDate("occurred_at", tzinfo=_zone()))


def spans(days: Iterable[date]) -> list[Span]:
    """Sorted days merged into runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(first, last) for first, last in runs]


def _months(runs: list[Span]) -> list[int]:
    months: set[int] = set()
    for first, last in runs:
        month = first.year * 12 + first.month - 1
        while month <= last.year * 12 + last.month - 1:
            months.add(month)
            month += 1
    return sorted(months)


def _db() -> str:
    return router.db_for_write(JourneyRollup)


def _lock(runs: list[Span], using: str) -> None:
    """Hold the months of ``runs`` until the transaction ends (in order: no deadlock between
    two refreshes)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, month) "
            "FROM (SELECT unnest(%s::integer[]) AS month ORDER BY 1) AS months",
            [LOCK_KEY, _months(runs)],
        )


def _aggregate(source: QuerySet[Moment]) -> QuerySet:
    """Live moments left-joined to their tags, grouped by day, stage, tag and polarity: the
    heatmap's own aggregate with the day added."""
    return (
        source.filter(dismissed=False)
        .values(
            r_day=F("rollup_day"),
            r_stage=F("stage_id"),
            r_tag=F("taggings__tag_id"),
            r_polarity=F("polarity"),
        )
        .annotate(
            r_count=Count("id"),
            r_impact=Sum("impact"),
            r_remembered=Sum(F("impact") * F("recall_now")),
        )
        .order_by()
    )


def _insert(source: QuerySet[Moment], now: datetime, using: str) -> int:
    """INSERT ... SELECT the aggregate of ``source``; returns the rows written. The SELECT is
    the ORM's (its day expression and joins are right on both backends); only the INSERT
    around it is written here."""
    connection = connections[using]
    select, params = _aggregate(source).query.get_compiler(connection=connection).as_sql()
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(JourneyRollup._meta.get_field(name).column)
        for name in (
            "day",
            "stage",
            "tag",
            "polarity",
            "moment_count",
            "impact_sum",
            "remembered_sum",
            "refreshed_at",
        )
    )
    sql = (
        f"INSERT INTO {quote(JourneyRollup._meta.db_table)} ({columns}) "
        "SELECT r_day, r_stage, r_tag, r_polarity, r_count, r_impact, r_remembered, %s "
        f"FROM ({select}) AS rollup"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params])
        return cursor.rowcount


def _recompute(runs: list[Span], *, now: datetime | None = None) -> int:
    """Replace the rows of the days in ``runs`` by fresh aggregates of their live moments."""
    if not runs:
        return 0
    using = _db()
    with transaction.atomic(using=using):
        return _replace(runs, now or timezone.now(), using)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta, held within datetime's range: a row stored in year 1 (before dates were
    bounded) must not overflow the rollup."""
    try:
        return moment + delta
    except OverflowError:
        edge = datetime.min if delta < timedelta(0) else datetime.max
        return edge.replace(tzinfo=moment.tzinfo)


def _replace(runs: list[Span], now: datetime, using: str) -> int:
    _lock(runs, using)
    rows, source = Q(), Q()
    for first, last in runs:
        rows |= Q(day__gte=first, day__lte=last)
        source |= Q(
            occurred_at__gte=_shifted(day_start(first), -MARGIN),
            occurred_at__lt=_shifted(day_start(last), timedelta(days=1) + MARGIN),
            rollup_day__gte=first,
            rollup_day__lte=last,
        )
    JourneyRollup.objects.using(using).filter(rows).delete()
    return _insert(_with_day(Moment.objects.using(using)).filter(source), now, using)


def days_of_customers(customer_ids: Iterable[int]) -> set[date]:
    """Every day on which these customers have a moment, dismissed ones included (a moment just
    dismissed must leave its day)."""
    ids = list(customer_ids)
    if not ids:
        return set()
    moments = Moment.objects.using(_db()).filter(customer_id__in=ids)
    days = _with_day(moments).values_list("rollup_day")
    return {day for (day,) in days.order_by().distinct()}


def refresh_days(days: Iterable[date]) -> int:
    """Recompute these days from their moments (in the caller's transaction, if any)."""
    return _recompute(spans(days))


def refresh_customers(customer_ids: Iterable[int], *, also: Iterable[date] = ()) -> int:
    """Recompute every day these customers have a moment on, and the days in ``also`` (where a
    moment was before an edit moved it)."""
    return refresh_days(days_of_customers(customer_ids) | set(also))


def local_day(when: datetime) -> date:
    """The rollup day of an instant."""
    return timezone.localtime(when, _zone()).date()


_pending = threading.local()


def refresh_days_on_commit(days: Iterable[date], *, using: str | None = None) -> None:
    """Recompute these days once the current transaction (on database ``using``) commits,
    right away outside one. Days asked for during one transaction are recomputed together,
    each once."""
    pending: set[date] | None = getattr(_pending, "days", None)
    if pending is None:
        pending = _pending.days = set()
    pending.update(days)
    # robust: the deletion is committed whatever happens here; a failure is logged, and the
    # scheduled rebuild repairs the days.
    transaction.on_commit(_flush_pending, using=using, robust=True)


def _flush_pending() -> None:
    # Several callbacks may be queued by one transaction: the first does the work. Days left
    # by a transaction that rolled back are recomputed too, which is harmless.
    days, _pending.days = getattr(_pending, "days", None) or set(), set()
    if days:
        refresh_days(days)


@dataclass(frozen=True)
class Rebuilt:
    months: int
    rows: int
    seconds: float


def rebuild(*, now: datetime | None = None) -> Rebuilt:
    """Recompute the whole rollup, one calendar month per transaction: each month's lock is
    held briefly, and readers (never blocked) see a month either before or after. Months
    without moments are emptied."""
    started = clock.perf_counter()
    now = now or timezone.now()
    using = _db()
    moments = Moment.objects.using(using).aggregate(
        first=Min("occurred_at"), last=Max("occurred_at")
    )
    rolled = JourneyRollup.objects.using(using).aggregate(first=Min("day"), last=Max("day"))
    bounds = [local_day(moments[k]) for k in ("first", "last") if moments[k]]
    bounds += [rolled[k] for k in ("first", "last") if rolled[k]]
    months = rows = 0
    if bounds:
        month = min(bounds).replace(day=1)
        end = max(bounds)
        while month <= end:
            following = (month + timedelta(days=32)).replace(day=1)
            rows += _recompute([(month, following - timedelta(days=1))], now=now)
            months += 1
            month = following
    return Rebuilt(months=months, rows=rows, seconds=clock.perf_counter() - started)


# --- Reading ------------------------------------------------------------------------------


@functools.cache
def _cells() -> QuerySet:
    """The rollup's rows grouped into stage x tag cells, built once per process: resolving its
    three sums costs more than running it over a few hundred rows. Readers filter a clone
    (``filter()`` returns a new QuerySet; this one is never evaluated)."""
    return (
        JourneyRollup.objects.values("stage_id", "tag_id")
        .annotate(
            count=Sum("moment_count"),
            total_impact=Sum("impact_sum"),
            total_remembered=Sum("remembered_sum"),
        )
        .order_by()
    )


def aggregates(
    *, date_from: date | None = None, date_to: date | None = None, polarity: str = ""
) -> QuerySet:
    """The heatmap's stage x tag cells over the rollup's days: ``stage_id``, ``tag_id``,
    ``count``, ``total_impact``, ``total_remembered`` (one GROUP BY over a few rows per day)."""
    conditions: dict = {}
    if date_from:
        conditions["day__gte"] = date_from
    if date_to:
        conditions["day__lte"] = date_to
    if polarity:
        conditions["polarity"] = polarity
    return _cells().filter(**conditions)

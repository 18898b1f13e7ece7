"""The survey report's reads: filters, the aggregates by stage and week, themes per stage, and
the rows of the CSV download (who sees what is surveys.access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Avg,
    Count,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from customers.models import JourneyStage
from surveys.access import invitations_visible_to, responses_visible_to
from surveys.models import Invitation, Response, Survey

# --- The report -----------------------------------------------------------------------------


@dataclass
class ReportFilters:
    survey: Survey | None = None
    stage: JourneyStage | None = None
    since: date | None = None
    until: date | None = None
    rating_min: int | None = None
    rating_max: int | None = None
    sentiment: str = ""
    q: str = ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_responses(user, filters: ReportFilters) -> QuerySet[Response]:
    rows = responses_visible_to(user)
    if filters.survey:
        rows = rows.filter(survey=filters.survey)
    if filters.stage:
        rows = rows.filter(invitation__interaction__stage=filters.stage)
    if filters.since:
        rows = rows.filter(created_at__gte=_day_start(filters.since))
    if filters.until and filters.until < date.max:  # the last day has no day after it
        rows = rows.filter(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    if filters.rating_min is not None:
        rows = rows.filter(rating__gte=filters.rating_min)
    if filters.rating_max is not None:
        rows = rows.filter(rating__lte=filters.rating_max)
    if filters.sentiment:
        rows = rows.filter(sentiment_label=filters.sentiment)
    if filters.q:
        rows = rows.filter(answer__icontains=filters.q)
    return rows


def filtered_invitations(user, filters: ReportFilters) -> QuerySet[Invitation]:
    rows = invitations_visible_to(user)
    if filters.survey:
        rows = rows.filter(survey=filters.survey)
    if filters.stage:
        rows = rows.filter(interaction__stage=filters.stage)
    if filters.since:
        rows = rows.filter(created_at__gte=_day_start(filters.since))
    if filters.until and filters.until < date.max:  # the last day has no day after it
        rows = rows.filter(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    return rows


def report(user, filters: ReportFilters) -> dict:
    """The report's figures, all computed by the database (a constant number of queries):

    - invitations: sent, answered, skipped (by reason), and the response rate
      (answered / sent);
    - ratings: count per rating value, per week (the distribution over time), the mean, and
      the NPS (promoters 9–10 minus detractors 0–6, in %) when the survey is NPS;
    - per journey stage of the surveyed interaction: answers, mean rating, mean sentiment.
    Invitation figures use the date and stage filters; rating filters apply to answers only.
    """
    invitations = filtered_invitations(user, filters)
    counts = invitations.aggregate(
        total=Count("id"),
        sent=Count("id", filter=Q(send_status=Invitation.SendStatus.SENT)),
        delivered_by_caller=Count("id", filter=Q(send_status=Invitation.SendStatus.NOT_SENT)),
        answered=Count("id", filter=Q(answered_at__isnull=False)),
        skipped=Count("id", filter=~Q(skipped_reason="")),
    )
    reached = counts["sent"] + counts["delivered_by_caller"]
    skipped = dict(
        invitations.exclude(skipped_reason="")
        .values_list("skipped_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    labels = dict(Invitation.SkipReason.choices)
    responses = filtered_responses(user, filters)
    summary = responses.aggregate(
        n=Count("id"), mean=Avg("rating"), sentiment=Avg("sentiment_score")
    )
    distribution = dict(responses.values_list("rating").annotate(n=Count("id")).order_by())
    weekly: dict[date, dict[int, int]] = {}
    for week, rating, n in (
        responses.annotate(week=TruncWeek("created_at"))
        .values_list("week", "rating")
        .annotate(n=Count("id"))
        .order_by("week", "rating")
    ):
        weekly.setdefault(week.date() if isinstance(week, datetime) else week, {})[rating] = n
    nps = None
    if filters.survey and filters.survey.rating_kind == Survey.RatingKind.NPS and summary["n"]:
        promoters = sum(n for r, n in distribution.items() if r >= 9)
        detractors = sum(n for r, n in distribution.items() if r <= 6)
        nps = round(100 * (promoters - detractors) / summary["n"])
    stages = list(
        responses.values("invitation__interaction__stage__name")
        .annotate(n=Count("id"), mean=Avg("rating"), sentiment=Avg("sentiment_score"))
        .order_by("-n")
    )
    themes = stage_themes(responses)
    if filters.survey:
        scale = list(filters.survey.rating_range)
    elif Survey.objects.filter(rating_kind=Survey.RatingKind.NPS).exists():
        scale = list(range(0, 11))  # surveys of both kinds together: the wider scale
    else:
        scale = list(range(1, 6))
    return {
        "invitations": counts["total"],
        "reached": reached,
        "answered": counts["answered"],
        "skipped": counts["skipped"],
        "skipped_by_reason": [
            {"reason": reason, "label": labels.get(reason, reason), "n": n}
            for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1])
        ],
        "response_rate": round(counts["answered"] / reached, 4) if reached else None,
        "responses": summary["n"],
        "mean_rating": round(summary["mean"], 2) if summary["mean"] is not None else None,
        "mean_sentiment": round(summary["sentiment"], 3)
        if summary["sentiment"] is not None
        else None,
        "nps": nps,
        "scale": scale,
        "distribution": [{"rating": r, "n": distribution.get(r, 0)} for r in scale],
        "weekly": [
            {
                "week": week.isoformat(),
                "n": sum(by_rating.values()),
                "counts": [by_rating.get(r, 0) for r in scale],
            }
            for week, by_rating in sorted(weekly.items())
        ],
        "themes": themes,
        "stages": [
            {
                "stage": row["invitation__interaction__stage__name"] or "(no interaction)",
                "n": row["n"],
                "mean_rating": round(row["mean"], 2) if row["mean"] is not None else None,
                "mean_sentiment": round(row["sentiment"], 3)
                if row["sentiment"] is not None
                else None,
            }
            for row in stages
        ],
    }


# Which moments an answer is about, in this order (the report's themes and the recalibration's
# evidence both read it): the moments the customer picked ("this stood out"); else the moment
# the answer itself became (it named none and was charged: the customer's own words); else the
# surveyed interaction's moments. One source per answer, so no answer counts twice for a tag.
ANSWER_MOMENT_PATHS = ("moments", "moment", "invitation__interaction__moments")


def _answers_about(responses: QuerySet[Response], path: str) -> QuerySet[Response]:
    if path == "moment":
        return responses.filter(moments__isnull=True)
    if path == "invitation__interaction__moments":
        return responses.filter(
            Q(moment__isnull=True) | Q(moment__dismissed=True), moments__isnull=True
        )
    return responses


def stage_themes(responses: QuerySet[Response], *, per_stage: int = 3) -> list[dict]:
    """The top "stood out" themes per journey stage: the tags of the moments the answers are
    about (ANSWER_MOMENT_PATHS), with how many answers, their mean rating and mean sentiment.
    The stage is the surveyed interaction's, else the moment's. Three queries, whatever the
    number of answers: the database groups the answers about their own moment or the
    interaction's (one moment each, one tagging per tag); picked moments come back one row per
    answer and tag (an answer may pick two moments with the same tag: it counts once)."""
    merged: dict[tuple[str, str], dict] = {}

    def add(stage, tag, n, total, feel, scored) -> None:
        acc = merged.setdefault(
            (stage or "(no stage)", tag), {"n": 0, "total": 0, "feel": 0.0, "scored": 0}
        )
        acc["n"] += n
        acc["total"] += total or 0
        acc["feel"] += feel or 0.0
        acc["scored"] += scored

    for path in ANSWER_MOMENT_PATHS:
        rows = _answers_about(responses, path).filter(
            **{f"{path}__taggings__isnull": False, f"{path}__dismissed": False}
        )
        rows = rows.annotate(
            theme_stage=Coalesce("invitation__interaction__stage__name", f"{path}__stage__name"),
            theme_tag=F(f"{path}__taggings__tag__name"),
        )
        if path == "moments":
            for _, stage, tag, rating, feel in rows.values_list(
                "id", "theme_stage", "theme_tag", "rating", "sentiment_score"
            ).distinct():
                add(stage, tag, 1, rating, feel, int(feel is not None))
            continue
        for row in (
            rows.values("theme_stage", "theme_tag")
            .annotate(
                n=Count("id"),
                total=Sum("rating"),
                feel=Sum("sentiment_score"),
                scored=Count("sentiment_score"),
            )
            .order_by()
        ):
            add(
                row["theme_stage"],
                row["theme_tag"],
                row["n"],
                row["total"],
                row["feel"],
                row["scored"],
            )
    by_stage: dict[str, list[dict]] = {}
    for (stage, tag), acc in merged.items():
        by_stage.setdefault(stage, []).append(
            {
                "tag": tag,
                "n": acc["n"],
                "mean_rating": round(acc["total"] / acc["n"], 2),
                "mean_sentiment": round(acc["feel"] / acc["scored"], 3) if acc["scored"] else None,
            }
        )
    return [
        {"stage": stage, "themes": sorted(items, key=lambda t: (-t["n"], t["tag"]))[:per_stage]}
        for stage, items in sorted(by_stage.items())
    ]


def report_rows(user, filters: ReportFilters) -> QuerySet[Response]:
    """The answers themselves, newest first, with what the list and the CSV show."""
    return (
        filtered_responses(user, filters)
        .select_related("survey", "customer", "invitation__interaction__stage")
        .order_by("-created_at", "-id")
    )

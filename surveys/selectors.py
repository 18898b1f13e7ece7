"""Reads of the surveys app: the link lookup, timeline states, and the report's aggregates."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.conf import settings
from django.db import connections, router
from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.formats import date_format

from customers.models import Customer, Interaction, JourneyStage
from memorycrm.lib.rawrows import ModelColumns
from moments.models import Moment
from moments.sentiment.survey import disagree
from surveys import tokens
from surveys.access import invitations_visible_to, responses_visible_to
from surveys.models import Invitation, Response, Survey


def invitation_for_token(raw: str) -> Invitation | None:
    """The invitation a link token belongs to (the latest link or the one before), whatever
    its state, with its survey, or None. Malformed tokens are rejected before touching the
    database.

    Written in SQL because it is the public page's hot path (bench/survey.py): building the
    equivalent ORM query cost several times what PostgreSQL spends running it. The columns come
    from the models' metadata, so a new field is read without touching this. The customer and
    the interaction load lazily, only where a page needs them.
    """
    if not tokens.looks_like_token(raw):
        return None
    digest = tokens.hash_token(raw)
    using = router.db_for_read(Invitation)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_token_lookup_sql(connection), [digest, digest])
        row = cursor.fetchone()
    if row is None:
        return None
    invitation = _INVITATION_COLUMNS.load(row, 0, connection, using)
    survey = _SURVEY_COLUMNS.load(row, len(_INVITATION_COLUMNS), connection, using)
    Invitation._meta.get_field("survey").set_cached_value(invitation, survey)
    return invitation


_INVITATION_COLUMNS = ModelColumns(Invitation, "i")
_SURVEY_COLUMNS = ModelColumns(Survey, "s")
_TOKEN_LOOKUP_SQL: dict[str, str] = {}  # per database vendor


def _token_lookup_sql(connection) -> str:
    sql = _TOKEN_LOOKUP_SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        survey_id = quote(Invitation._meta.get_field("survey").column)
        # No ORDER BY: both unique indexes are used (a BitmapOr on PostgreSQL); at most one row
        # matches, since a hash belongs to one link and links are 256 random bits.
        sql = (
            f"SELECT {_INVITATION_COLUMNS.select_list(connection)}, "
            f"{_SURVEY_COLUMNS.select_list(connection)} "
            f"FROM {quote(Invitation._meta.db_table)} i "
            f"JOIN {quote(Survey._meta.db_table)} s ON s.{quote('id')} = i.{survey_id} "
            f"WHERE i.{quote('token_hash')} = %s OR i.{quote('previous_token_hash')} = %s "
            "LIMIT 1"
        )
        _TOKEN_LOOKUP_SQL[connection.vendor] = sql
    return sql


@dataclass
class MomentChoice:
    moment: Moment
    label: str


def moment_choices(invitation: Invitation) -> list[MomentChoice]:
    """What the answer page offers as "this stood out": when the survey asks and the invitation
    names an interaction, that interaction's moment and the customer's other live moments
    within SURVEY_MOMENT_WINDOW_DAYS of it, strongest first (at most SURVEY_MOMENT_CHOICES).
    Only moments of interactions: one that an earlier answer became is the customer's own
    words, not an experience to recognise.

    Only customer-facing interactions: never a note or an internal one (agents write those for
    each other: "INTERNAL: suspected fraud" was once offered to a customer). Labels are the
    channel and the date ("Your email of 12 Oct"), never a subject or a body, which agents write
    or edit; tag names and scores are internal and never shown either.
    """
    if not invitation.survey.ask_moments or invitation.interaction_id is None:
        return []
    window = timedelta(days=settings.SURVEY_MOMENT_WINDOW_DAYS)
    # The interaction's time as a subquery and the customer through the moments, so the page
    # costs one query here, whatever the invitation loaded.
    when = Subquery(
        Interaction.objects.filter(pk=invitation.interaction_id).values("occurred_at")[:1]
    )
    moments = list(
        Moment.objects.live()
        .filter(customer_id=invitation.customer_id, source=Moment.Source.INTERACTION)
        .exclude(interaction__channel=Interaction.Channel.NOTE)
        .exclude(interaction__direction=Interaction.Direction.INTERNAL)
        .filter(
            Q(interaction_id=invitation.interaction_id)
            | Q(
                occurred_at__gte=ExpressionWrapper(when - window, output_field=DateTimeField()),
                occurred_at__lte=ExpressionWrapper(when + window, output_field=DateTimeField()),
            )
        )
        .select_related("interaction", "customer")
        .order_by("-impact", "-occurred_at", "-id")[: settings.SURVEY_MOMENT_CHOICES]
    )
    if not moments:
        return []
    moments.sort(key=lambda m: m.interaction_id != invitation.interaction_id)  # its own first
    tz = customer_timezone(moments[0].customer)
    return [MomentChoice(moment=m, label=_moment_label(m, tz)) for m in moments]


def customer_timezone(customer: Customer) -> tzinfo:
    """The customer's time zone (Customer.timezone, an IANA name), else the site's."""
    try:
        return (
            zoneinfo.ZoneInfo(customer.timezone)
            if customer.timezone
            else timezone.get_default_timezone()
        )
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def _moment_label(moment: Moment, tz: tzinfo) -> str:
    """ "Your email of 12 Oct" (the customer wrote or called), "Our call of 3 Nov" (we did)."""
    when = date_format(timezone.localtime(moment.occurred_at, tz), "j M")
    interaction = moment.interaction
    if interaction is None:
        return f"Something on {when}"
    theirs = interaction.direction == Interaction.Direction.INBOUND and interaction.channel in (
        Interaction.Channel.EMAIL,
        Interaction.Channel.CALL,
        Interaction.Channel.CHAT,
    )
    return f"{'Your' if theirs else 'Our'} {interaction.get_channel_display().lower()} of {when}"


def default_survey() -> Survey | None:
    """The survey agents send from the timeline: the oldest active one."""
    return Survey.objects.filter(active=True).order_by("id").first()


def latest_invitations(interaction_ids: list[int]) -> dict[int, Invitation]:
    """interaction id → its latest invitation, in one query (for a page of the timeline)."""
    latest: dict[int, Invitation] = {}
    rows = Invitation.objects.filter(interaction_id__in=interaction_ids).order_by(
        "interaction_id", "-created_at", "-id"
    )
    for invitation in rows:
        latest.setdefault(invitation.interaction_id, invitation)
    return latest


def customer_responses(customer: Customer, *, limit: int = 5) -> list[Response]:
    return list(
        Response.objects.filter(customer=customer)
        .select_related("survey", "invitation__interaction", "moment")
        .prefetch_related("moments__interaction")
        .order_by("-created_at", "-id")[:limit]
    )


# --- Agent vs customer memory --------------------------------------------------------------


def signed_rating(rating: int, kind: str) -> float:
    """A rating on the sentiment scale [-1, 1]: CSAT 1..5 around 3, NPS 0..10 around 5."""
    if kind == Survey.RatingKind.NPS:
        return (rating - 5) / 5
    return (rating - 3) / 2


@dataclass
class MemoryGap:
    """Where what the customer remembers differs from what the CRM scored.

    ``top`` is the moment the agents' scoring rates highest (impact) among those around the
    surveyed interaction; ``recalled`` are the moments the customer picked. ``moment_differs``:
    the customer picked moments, and not the top one. ``rating_disagrees``: the rating and the
    interaction's sentiment clearly point opposite ways (moments.sentiment.survey.disagree).
    """

    response: Response
    recalled: list[Moment]
    top: Moment | None
    rating: float
    sentiment: float | None

    @property
    def moment_differs(self) -> bool:
        return bool(self.recalled) and self.top is not None and self.top not in self.recalled

    @property
    def rating_disagrees(self) -> bool:
        return disagree(sentiment=self.sentiment, rating=self.rating)

    @property
    def any(self) -> bool:
        return self.moment_differs or self.rating_disagrees


def memory_gaps(responses: list[Response]) -> dict[int, MemoryGap]:
    """response id → its MemoryGap, for responses loaded with ``survey``,
    ``invitation__interaction`` and prefetched ``moments``. One query, whatever the count."""
    window = timedelta(days=settings.SURVEY_MOMENT_WINDOW_DAYS)
    surveyed = [r for r in responses if r.invitation.interaction is not None]
    nearby: dict[int, list[Moment]] = {}
    if surveyed:
        times = [
            r.invitation.interaction.occurred_at
            for r in surveyed
            if r.invitation.interaction is not None  # always: says so to the type checker
        ]
        for moment in (
            Moment.objects.live()
            .filter(customer_id__in={r.customer_id for r in surveyed})
            .filter(occurred_at__gte=min(times) - window, occurred_at__lte=max(times) + window)
            .select_related("interaction")
        ):
            nearby.setdefault(moment.customer_id, []).append(moment)
    gaps = {}
    for response in responses:
        interaction = response.invitation.interaction
        top = None
        if interaction is not None:
            around = [
                m
                for m in nearby.get(response.customer_id, [])
                if m.interaction_id == interaction.pk
                or abs(m.occurred_at - interaction.occurred_at) <= window
            ]
            top = max(around, key=lambda m: (m.impact, m.occurred_at), default=None)
        gaps[response.pk] = MemoryGap(
            response=response,
            recalled=list(response.moments.all()),
            top=top,
            rating=signed_rating(response.rating, response.survey.rating_kind),
            sentiment=interaction.sentiment_score if interaction is not None else None,
        )
    return gaps


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

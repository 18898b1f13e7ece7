"""Reads of the surveys app: the link lookup, the moments offered, timeline states, and agent
vs customer memory. The report's aggregates are surveys.selectors_report."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from django.conf import settings
from django.db import connections, router
from django.db.models import (
    DateTimeField,
    ExpressionWrapper,
    Q,
    Subquery,
)
from django.utils import timezone
from django.utils.formats import date_format

from customers.models import Customer, Interaction
from memorycrm.lib.rawrows import ModelColumns
from moments.models import Moment
from moments.sentiment.survey import disagree
from surveys import tokens
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

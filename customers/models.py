from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.timezone import now

from customers.validators import validate_timezone


class JourneyStage(models.Model):
    """A stage of the customer journey (onboarding, complaint, renewal, …), configured by admins.

    `is_critical` stages are where memories are made or damaged; `weight` scales the impact of
    moments that happen in the stage.
    """

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    order = models.PositiveSmallIntegerField(default=0)
    is_critical = models.BooleanField(default=False)
    weight = models.FloatField(default=1.0)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=0) & Q(weight__lte=10), name="stage_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SearchText(models.Func):
    """What a search looks in: `lower(name || ' ' || email || ' ' || company)`.

    On PostgreSQL three indexes serve it. A trigram GIN index on this very expression
    (migration 0010) finds the customers matching a rare term; the (name, id) index includes
    email and company, so a search for a common term matches while it walks the names in order
    without reading the table (an index-only scan); the index of words (SearchWord, migration
    0012) lists, per word of this text, its customers in name order.
    customers.selectors.first_matches uses all three: the words for a term of letters and digits
    in few words, else a short walk, then the words for one in more, then the trigram index. A
    stored lower-cased column would make the walk faster still, but an index entry holding the
    name and that column can outgrow PostgreSQL's limit (2,704 bytes) for long non-Latin names;
    name, email and company within their lengths always fit. The SQL is written out (not
    Concat, whose SQL differs between Django versions) because the indexes must hold the same
    expression as the query.
    """

    template = "LOWER(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = models.TextField()

    columns = ("name", "email", "company")

    def __init__(self) -> None:
        super().__init__(*self.columns)


def search_term(term: str) -> str:
    """What a search looks for: the term lower-cased, its runs of white space made one space."""
    return " ".join(term.split()).lower()


class CustomerQuerySet(models.QuerySet):
    def search(self, term: str) -> CustomerQuerySet:
        """Substring search over name, email and company, case-insensitive (see SearchText)."""
        term = search_term(term)
        if not term:
            return self
        return self.alias(search_text=SearchText()).filter(search_text__contains=term)


class SearchWord(models.Model):
    """A word of some customer's SearchText: a run of letters and digits of
    `lower(name || ' ' || email || ' ' || company)` (split on `[^[:alnum:]]+`).

    With SearchPosting, the index of name words customers.selectors.first_matches asks for a
    term of ASCII letters and digits: such a term, found in a customer's text, lies inside one
    of its words, so the words containing the term lead to exactly the customers matching it.
    Kept by database triggers on PostgreSQL (migration 0012: COPY, bulk_create and raw SQL
    included); empty on SQLite, whose search scans. Deleting customers deletes the words no
    other customer has. A change of name, email or company leaves the words it removed (with
    no customers: they find nobody): removing them would make such a change wait for every
    customer being stored at the time (an import). An erasure takes them out
    (customers.privacy.forget_unused_search_words: every word no customer has), as does a
    TRUNCATE.
    """

    word = models.TextField(primary_key=True)

    def __str__(self) -> str:
        return self.word


class SearchPosting(models.Model):
    """A customer whose SearchText holds `word` (SearchWord), with the customer's name: the
    primary key's index lists a word's customers in name order."""

    pk = models.CompositePrimaryKey("word", "name", "customer_id")
    word = models.TextField()
    name = models.CharField(max_length=200)
    customer_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.word}: {self.name}"


def _errors_on_fields(error: ValidationError, constraints) -> dict:
    """Move the messages of single-field unique constraints from the form to that field."""
    field_of = {
        str(c.violation_error_message): c.fields[0] if c.fields else None for c in constraints
    }
    field_of[str(_EMAIL_UNIQUE_MESSAGE)] = "email"
    field_of[str(_REF_UNIQUE_MESSAGE)] = "external_ref"
    errors: dict[str, list] = {}
    for key, messages in error.error_dict.items():
        for message in messages:
            text = " ".join(message.messages)
            target = field_of.get(text) if key == NON_FIELD_ERRORS else key
            errors.setdefault(target or key, []).append(message)
    return errors


_EMAIL_UNIQUE_MESSAGE = "A customer with this email already exists."
_REF_UNIQUE_MESSAGE = "A customer with this external reference already exists."


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True)
    company = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    external_ref = models.CharField(
        max_length=100,
        blank=True,
        help_text="The customer's id in another system; used to match rows on import.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="IANA name, e.g. Europe/Paris",
    )
    notes = models.TextField(blank=True)
    survey_opt_out = models.BooleanField(
        default=False, help_text="The customer asked not to receive surveys."
    )
    # Set when a bounce reports the address as failing (customers.channels); surveys are not
    # sent to it until the address changes (update_customer clears it) or an admin clears it.
    email_undeliverable_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a bounce reported this address as undeliverable; surveys skip it.",
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The list's order, and the walk a search for a common term takes (SearchText).
            # `include` is PostgreSQL's; other databases build the plain (name, id) index.
            models.Index(
                fields=["name", "id"], include=["email", "company"], name="customer_name_search"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="customer_email_unique_ci",
                violation_error_message=_EMAIL_UNIQUE_MESSAGE,
            ),
            models.UniqueConstraint(
                "external_ref",
                condition=~Q(external_ref=""),
                name="customer_external_ref_unique",
                violation_error_message=_REF_UNIQUE_MESSAGE,
            ),
        ]
        permissions = [
            ("import_customers", "Can import customers and interactions from CSV"),
            ("export_customers", "Can export customers and interactions as CSV"),
            ("view_all_customers", "Can see every customer, whoever owns it"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customer-detail", args=[self.pk])

    def validate_constraints(self, exclude=None) -> None:
        """As Django's, but a duplicate email or external reference is reported on its field
        (Django puts conditional unique constraints under the whole form)."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            raise ValidationError(_errors_on_fields(error, self._meta.constraints)) from None


class ScoredText(models.Model):
    """A text the sentiment model scores (an interaction, a survey answer): the model's label,
    signed score (-1 … 1), confidence (0 … 1) and version, and when it was written. All empty
    ("pending") until scored; written only by the scoring pipeline
    (moments.sentiment.services.write_scores) and an agent's correction."""

    class Sentiment(models.TextChoices):
        NEGATIVE = "negative", "Negative"
        NEUTRAL = "neutral", "Neutral"
        POSITIVE = "positive", "Positive"

    sentiment_label = models.CharField(max_length=16, choices=Sentiment.choices, blank=True)
    sentiment_score = models.FloatField(null=True, blank=True)
    sentiment_confidence = models.FloatField(null=True, blank=True)
    sentiment_model = models.CharField(max_length=120, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        # "%(class)s": each model's constraints keep names of their own.
        constraints = [
            models.CheckConstraint(
                condition=Q(sentiment_score__isnull=True)
                | (Q(sentiment_score__gte=-1) & Q(sentiment_score__lte=1)),
                name="%(class)s_sentiment_score_range",
            ),
            models.CheckConstraint(
                condition=Q(sentiment_confidence__isnull=True)
                | (Q(sentiment_confidence__gte=0) & Q(sentiment_confidence__lte=1)),
                name="%(class)s_sentiment_confidence_range",
            ),
        ]

    @property
    def is_scored(self) -> bool:
        return self.scored_at is not None


# The fields of a ScoredText, for the serializers and admins that show them (read-only).
SENTIMENT_FIELDS = (
    "sentiment_label",
    "sentiment_score",
    "sentiment_confidence",
    "sentiment_model",
    "scored_at",
)


class InteractionQuerySet(models.QuerySet):
    def customer_words(self) -> InteractionQuerySet:
        """The customer's own words (inbound): the only interactions scored as the customer's
        sentiment. An agent's reply (outbound) or internal note is never scored: it would put
        the agent's tone in the customer's memory, figures and rules."""
        return self.filter(direction=Interaction.Direction.INBOUND)

    def sentiment_pending(self) -> InteractionQuerySet:
        """The customer's words still waiting for a score (agents' notes never wait)."""
        return self.customer_words().filter(scored_at__isnull=True)


class Interaction(ScoredText):
    """One contact with a customer. Sentiment fields stay empty ("pending") until scored; for
    an agent's reply or internal note they stay empty for good (``sentiment_state``)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        CHAT = "chat", "Chat"
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        INTERNAL = "internal", "Internal"

    # Indexed with id (Meta.indexes), not alone.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=16, choices=Direction.choices, default="inbound")
    occurred_at = models.DateTimeField(default=now)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    stage = models.ForeignKey(
        JourneyStage, null=True, blank=True, on_delete=models.PROTECT, related_name="interactions"
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    external_ref = models.CharField(
        max_length=100, blank=True, help_text="Id in the source system; used to match on import."
    )
    created_at = models.DateTimeField(default=now, editable=False)
    # Written by a CSV import: history being loaded, not something happening now, so real-time
    # reactions (alerts, emails, webhooks) never fire for it (interventions.engine).
    imported = models.BooleanField(default=False, editable=False)

    objects = InteractionQuerySet.as_manager()

    class Meta(ScoredText.Meta):
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                "customer",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="interaction_timeline",
            ),
            # Every lookup by customer, and a customer's newest id (the timeline's arrivals)
            # in one step: the primary key walked backwards would pass every other customer's
            # newer interactions (millions) to reach the newest of an old customer.
            models.Index(fields=["customer", "id"], name="interaction_customer_id"),
            # The API's unfiltered interaction list (newest first, cursor-paginated).
            models.Index(
                models.F("occurred_at").desc(), models.F("id").desc(), name="interaction_recent"
            ),
            models.Index(
                fields=["occurred_at"],
                name="interaction_pending",
                # The sweep's rows: only the customer's words ever wait for a score.
                condition=Q(scored_at__isnull=True, direction="inbound"),
            ),
        ]
        constraints = [
            *ScoredText.Meta.constraints,
            models.UniqueConstraint(
                "customer",
                "external_ref",
                condition=~Q(external_ref=""),
                name="interaction_external_ref_unique",
                violation_error_message="This customer already has an interaction with this "
                "external reference.",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_channel_display()} with {self.customer_id} at {self.occurred_at:%Y-%m-%d}"
        )

    def clean(self) -> None:
        errors = {}
        if not (self.subject.strip() or self.body.strip()):
            errors["body"] = "Write a subject or a body: an empty interaction says nothing."
        if self.occurred_at and self.occurred_at > now() + timedelta(days=1):
            errors["occurred_at"] = "An interaction cannot happen more than a day in the future."
        earliest = date.fromisoformat(settings.INTERACTION_EARLIEST)
        if self.occurred_at and self.occurred_at < datetime.combine(
            earliest, datetime.min.time(), tzinfo=UTC
        ):
            errors["occurred_at"] = f"An interaction cannot be dated before {earliest:%Y-%m-%d}."
        cap = settings.INTERACTION_BODY_MAX_CHARS
        if len(self.body) > cap:
            errors["body"] = (
                f"The body is limited to {cap:,} characters (this one has {len(self.body):,}): "
                "shorten it or keep long documents elsewhere."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_customer_words(self) -> bool:
        return self.direction == self.Direction.INBOUND

    @property
    def sentiment_state(self) -> str:
        """ "scored", "pending" (the customer's words, not scored yet) or "not_scored" (an
        agent's reply or internal note: no customer sentiment, ever)."""
        if not self.is_customer_words:
            return "not_scored"
        return "scored" if self.scored_at is not None else "pending"

    @property
    def text(self) -> str:
        """What the sentiment model reads: the subject and the body."""
        return "\n".join(part for part in (self.subject.strip(), self.body.strip()) if part)


class ImportJob(models.Model):
    """One CSV upload being imported in the background, with its progress and bad rows."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        INTERACTIONS = "interactions", "Interactions"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    # The file itself is kept in the database so any worker host can read it.
    content = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    unchanged_rows = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # [{"line": 7, "reason": "email: Enter a valid email address."}, …] (capped: imports.importers)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


# The channels' models (customers/channels: transcripts, email in, emails sent for threading),
# models of this app kept in their own module.
from customers.channels.models import (  # noqa: E402
    Conversation,
    InboundEmail,
    Mailbox,
    OutboundEmail,
)

__all__ = [
    "SENTIMENT_FIELDS",
    "Conversation",
    "Customer",
    "ImportJob",
    "InboundEmail",
    "Interaction",
    "JourneyStage",
    "Mailbox",
    "OutboundEmail",
    "ScoredText",
]

"""Memory moments, their tag taxonomy and each customer's memory balance
(see moments/memory/scoring.py and docs/memory-model.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Interaction
from moments.memory import scoring


class Polarity(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"


class TagPolarity(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    EITHER = "either", "Either"


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1f7a4d.")


class TagCategory(models.Model):
    """A group of tags in the taxonomy (service, speed, money, …), for admins and filters."""

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "tag categories"

    def __str__(self) -> str:
        return self.name


class MomentTagQuerySet(models.QuerySet):
    def active(self) -> MomentTagQuerySet:
        return self.filter(active=True)


WEIGHT_MIN, WEIGHT_MAX = 0, 10  # a tag's impact weight


class MomentTag(models.Model):
    """A kind of memorable moment ("empathy win", "broken promise"). ``weight`` scales the
    moment's impact. Retiring a tag (active=False) hides it from new tagging; old moments keep it.
    """

    category = models.ForeignKey(TagCategory, on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    polarity = models.CharField(
        max_length=8, choices=TagPolarity.choices, default=TagPolarity.EITHER
    )
    weight = models.FloatField(
        default=1.0,
        help_text="Impact weight, 0 to 10.",
        # The same range as the check constraint, so a form says so next to the field.
        validators=[MinValueValidator(WEIGHT_MIN), MaxValueValidator(WEIGHT_MAX)],
    )
    colour = models.CharField(max_length=7, default="#6b7280", validators=[colour_validator])
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="Retired tags stay on old moments.")
    order = models.PositiveSmallIntegerField(default=0)

    objects = MomentTagQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=WEIGHT_MIN) & Q(weight__lte=WEIGHT_MAX),
                name="momenttag_weight_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.active else f"{self.name} (retired)"


class TagRule(models.Model):
    """Keywords or phrases (one per line, case-insensitive, whole words) and an optional stage
    that suggest a tag. A match makes the interaction a moment with that tag."""

    name = models.CharField(max_length=120, unique=True)
    tag = models.ForeignKey(MomentTag, on_delete=models.CASCADE, related_name="rules")
    phrases = models.TextField(help_text="One keyword or phrase per line.")
    stage = models.ForeignKey(
        "customers.JourneyStage",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tag_rules",
        help_text="Only interactions in this stage (empty: any stage).",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def phrase_list(self) -> list[str]:
        return [line.strip().lower() for line in self.phrases.splitlines() if line.strip()]


class MomentQuerySet(models.QuerySet):
    def live(self) -> MomentQuerySet:
        """Moments that count: not dismissed by an agent."""
        return self.filter(dismissed=False)


class Moment(models.Model):
    """An interaction (or a survey answer) the customer is likely to remember: why
    (``reasons``), how it feels (polarity, intensity), how much it weighs (impact) and how long
    it will be remembered (the recall forecast, recomputed as time passes and when a later
    moment or the customer's recall in a survey answer refreshes it)."""

    class Reason(models.TextChoices):
        PEAK = "peak", "Sentiment peak"
        SWING = "swing", "Swing from baseline"
        CRITICAL_STAGE = "critical_stage", "Critical stage"
        TAG_RULE = "tag_rule", "Tag rule"
        AGENT = "agent", "Tagged by an agent"

    class Source(models.TextChoices):
        INTERACTION = "interaction", "Interaction"
        SURVEY = "survey", "Survey answer"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="moments"
    )
    # Where the moment comes from: an interaction (``interaction``), or a survey answer that
    # named no moment (source "survey": the moment keeps the answer's text and sentiment, as
    # moments knows nothing of surveys; the link is surveys.Response.moment).
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.INTERACTION)
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.CASCADE, related_name="moments"
    )
    source_text = models.TextField(
        blank=True, help_text="A survey moment's answer, as the customer wrote it."
    )
    source_score = models.FloatField(
        null=True, blank=True, help_text="A survey moment's answer sentiment, -1 to 1."
    )
    source_confidence = models.FloatField(
        null=True, blank=True, help_text="The confidence of that sentiment, 0 to 1."
    )
    stage = models.ForeignKey(
        "customers.JourneyStage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moments",
    )
    occurred_at = models.DateTimeField(db_index=True)
    tags = models.ManyToManyField(
        MomentTag, through="MomentTagging", related_name="moments", blank=True
    )
    polarity = models.CharField(max_length=8, choices=Polarity.choices, default=Polarity.NEUTRAL)
    intensity = models.FloatField(default=0.0)
    impact = models.FloatField(default=0.0)
    # [{"reason": "peak", "detail": "|-0.92| x 0.95 = 0.87 >= 0.60"}, …]
    reasons = models.JSONField(default=list, blank=True)
    detected_by = models.CharField(
        max_length=150, help_text="Detection reasons or rule names, or the agent's username."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moments_created",
    )
    dismissed = models.BooleanField(default=False)
    dismissed_reason = models.CharField(max_length=300, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moments_dismissed",
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # Recall forecast (moments/memory/scoring.py): stability in days, refreshes, and recall now
    # and 7 / 30 / 365 days after the moment happened, as of computed_at.
    stability_days = models.FloatField(default=0.0)
    refresh_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    recall_now = models.FloatField(default=1.0)
    recall_7 = models.FloatField(default=0.0)
    recall_30 = models.FloatField(default=0.0)
    recall_365 = models.FloatField(default=0.0)
    computed_at = models.DateTimeField(null=True, blank=True)
    # The fields above, which every recomputation of the forecast writes (and admins only read).
    RECALL_FIELDS = (
        "stability_days",
        "refresh_count",
        "refreshed_at",
        "recall_now",
        "recall_7",
        "recall_30",
        "recall_365",
        "computed_at",
    )
    # When the customer recalled this moment unprompted (picked it as what stood out in a
    # survey answer): ISO timestamps, each a refresh of the memory at that time. Written only
    # by moments.memory.recall.note_recalled, once per time (the answer's), so an answer
    # processed twice refreshes once.
    recalled_at = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MomentQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["interaction"],
                condition=Q(interaction__isnull=False),
                name="moment_one_per_interaction",
                violation_error_message="This interaction is already a moment.",
            ),
            # A survey moment has no interaction, and has the answer's text. (A moment of
            # source "interaction" may lack one: made by hand, in the shell or tests.)
            models.CheckConstraint(
                condition=Q(source="interaction")
                | Q(source="survey", interaction__isnull=True) & ~Q(source_text=""),
                name="moment_source_consistent",
                violation_error_message="A survey answer's moment has the answer's text and no "
                "interaction.",
            ),
            models.CheckConstraint(
                condition=Q(intensity__gte=0) & Q(intensity__lte=1),
                name="moment_intensity_range",
            ),
            models.CheckConstraint(
                condition=Q(dismissed=False) | ~Q(dismissed_reason=""),
                name="moment_dismissed_has_reason",
                violation_error_message="Say why the moment is dismissed.",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="moment_customer_time"),
            models.Index(fields=["stage", "occurred_at"], name="moment_stage_time"),
        ]
        permissions = [("view_dashboard", "Can view the journey map dashboard")]

    def __str__(self) -> str:
        return f"Moment {self.pk} ({self.polarity}) of customer {self.customer_id}"

    @property
    def reason_codes(self) -> list[str]:
        return [r.get("reason", "") for r in self.reasons]

    @property
    def likely_remembered(self) -> float:
        """The one recall figure: forecast recall 30 days after the forecast was made
        (``computed_at``, refreshed on every change and by the scheduled refresh), in [0, 1].
        Everything that shows a moment's recall to a person shows this (``scoring``)."""
        from moments.memory import parameters  # it reads this module's models

        return scoring.likely_remembered(
            occurred_at=self.occurred_at,
            as_of=self.computed_at or timezone.now(),
            stability_days=self.stability_days,
            refresh_count=self.refresh_count,
            refreshed_at=self.refreshed_at,
            params=parameters.current(),  # settings, or the applied fit (cached)
        )

    @property
    def likely_remembered_percent(self) -> int:
        return round(100 * self.likely_remembered)

    @property
    def reason_labels(self) -> list[str]:
        labels = dict(self.Reason.choices)
        return [labels.get(code, code) for code in self.reason_codes]


class MomentTagging(models.Model):
    """A tag on a moment, with who put it there (an agent, or a rule / detection)."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(MomentTag, on_delete=models.PROTECT, related_name="taggings")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=150, blank=True, help_text="Rule name, or 'agent'.")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["moment", "tag"], name="momenttagging_unique"),
        ]
        indexes = [models.Index(fields=["tag", "moment"], name="momenttagging_tag_moment")]

    def __str__(self) -> str:
        return f"{self.tag} on moment {self.moment_id}"


class CustomerMemory(models.Model):
    """A customer's memory balance (moments/memory/scoring.py), kept up to date by the services
    and a scheduled refresh, so lists and dashboards read one row per customer, not their
    moments."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="memory"
    )
    balance = models.FloatField(default=0.0)
    previous_balance = models.FloatField(default=0.0)
    trend = models.FloatField(default=0.0)
    at_risk = models.BooleanField(default=False)
    moment_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "customer memories"
        indexes = [
            models.Index(
                fields=["balance"], name="customermemory_at_risk", condition=Q(at_risk=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Memory of customer {self.customer_id}: {self.balance:+.2f}"

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Interaction
from moments.memory import scoring


class SentimentModel(models.Model):
    """One training run of the sentiment model, and so one model version: its status while
    training (with progress), its metrics once ready, or why it failed.

    The model file lives in SENTIMENT_MODEL_DIR/<version>/ next to its metadata.json (see
    moments.sentiment.training); this row says which model is active and is what agents and
    admins see on the status page.
    """

    class Kind(models.TextChoices):
        QUICK = "quick", "Quick (frozen embeddings)"
        FULL = "full", "Full (fine-tuned)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    version = models.CharField(max_length=120, blank=True, help_text="Set when training ends.")
    progress = models.FloatField(default=0.0)
    message = models.CharField(
        max_length=500, blank=True, help_text="Current step, or why it failed."
    )
    with_corrections = models.BooleanField(default=False)
    path = models.CharField(
        max_length=500, blank=True, help_text="model.pt, relative to SENTIMENT_MODEL_DIR."
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The model scoring uses is the ready one activated last (a newer full model replaces the
    # quick one; a model that fails to load is marked failed and the previous one takes over).
    activated_at = models.DateTimeField(null=True, blank=True)
    # Heartbeat while training: a "training" row not updated for a while lost its worker.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1),
                name="sentimentmodel_progress_range",
            ),
            models.UniqueConstraint(
                fields=["version"], condition=~Q(version=""), name="sentimentmodel_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} model {self.version or '(unnamed)'}: {self.status}"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.TRAINING)

    @property
    def metric_rows(self) -> list[dict]:
        """Per held-out split: size, macro-F1, accuracy, and VADER's macro-F1 on the same rows."""
        vader = self.metadata.get("vader", {})
        return [
            {
                "split": name,
                "n": row["n"],
                "macro_f1": row["macro_f1"],
                "accuracy": row["accuracy"],
                "vader_f1": vader.get(name, {}).get("macro_f1"),
            }
            for name, row in self.metadata.get("metrics", {}).items()
        ]

    @property
    def hutto_f1(self) -> float | None:
        return self.metadata.get("metrics", {}).get("hutto3_test", {}).get("macro_f1")


class ScoringRequest(models.Model):
    """Texts sent to ``POST /api/v1/sentiment/``, scored by a worker (web processes never load
    the model). The texts are dropped once scored; the results stay for the requester to
    collect at the result URL until SENTIMENT_API_RESULT_HOURS have passed."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    texts = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    model_version = models.CharField(max_length=120, blank=True)
    results = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Scoring request {self.pk} ({self.status})"


class SentimentCorrection(models.Model):
    """An agent's correction of an interaction's sentiment: a labelled example for retraining
    (``train_sentiment --with-corrections``). One per interaction; correcting again updates it.

    ``text`` is a copy of what the agent read, so retraining uses the text that was judged even
    if the interaction is later edited.
    """

    interaction = models.OneToOneField(
        Interaction, on_delete=models.CASCADE, related_name="sentiment_correction"
    )
    label = models.CharField(max_length=16, choices=Interaction.Sentiment.choices)
    text = models.TextField()
    previous_label = models.CharField(max_length=16, blank=True)
    previous_model = models.CharField(max_length=120, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="sentiment_corrections",
    )
    corrected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-corrected_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(label__in=["negative", "neutral", "positive"]),
                name="sentimentcorrection_label_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Interaction {self.interaction_id} corrected to {self.label}"


# --- Memory moments (see moments/memory/scoring.py and docs/memory-model.md) --------------


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


# --- Journey map rollup (moments/memory/rollup.py) ------------------------------------------


class JourneyRollup(models.Model):
    """The journey map's daily aggregate of live moments: one row per day (in TIME_ZONE),
    journey stage, tag (empty: the moments without a tag) and polarity, with the number of
    moments and the sums of their impact and of impact x recall now. A moment with two tags
    counts in both tags' rows, as on the map.

    Derived data, never edited: moments/memory/rollup.py recomputes a day from its moments in
    the transaction that changes one of them, and rebuilds everything after the scheduled memory
    refresh (recall fades as days pass) or with ``manage.py rebuild_journey_rollup``.
    """

    day = models.DateField()
    stage = models.ForeignKey(
        "customers.JourneyStage",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # read by day (the unique index); stages and tags are rarely deleted
    )
    tag = models.ForeignKey(
        MomentTag,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        help_text="Empty: the moments without a tag.",
    )
    polarity = models.CharField(max_length=8, choices=Polarity.choices)
    moment_count = models.PositiveIntegerField()
    impact_sum = models.FloatField()
    remembered_sum = models.FloatField(help_text="Sum of impact x recall now.")
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [
            # One row per cell and day. Stage and tag may be empty, and NULLs never collide in a
            # unique index: coalesce them so a duplicate row (double counts) cannot exist.
            models.UniqueConstraint(
                "day",
                Coalesce("stage", Value(0)),
                Coalesce("tag", Value(0)),
                "polarity",
                name="journeyrollup_day_cell_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Rollup {self.day} stage {self.stage_id} tag {self.tag_id} {self.polarity}"


# --- The forecast's parameters, fitted on survey answers (moments/memory/parameters.py) -----


class MemoryFitProposal(models.Model):
    """A set of memory-model parameters fitted by maximum likelihood on survey evidence
    (``fit_memory_model``, moments.memory.fitting), next to the parameters in use when it was
    proposed and the evidence's verdict on both. A proposal changes nothing until an admin
    applies it (Django admin, audited); the applied one is then what the recall forecast uses,
    instead of the MEMORY_* settings (moments.memory.parameters.current). At most one is
    proposed and one applied at a time: a newer fit supersedes the open proposal, applying one
    retires the one applied before."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPLIED = "applied", "Applied (in use)"
        SUPERSEDED = "superseded", "Superseded (never applied)"
        RETIRED = "retired", "Retired (was applied)"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    # The proposed parameters (moments.memory.scoring.MemoryParams), within fitting.BOUNDS.
    base_stability_days = models.FloatField()
    intensity_gain = models.FloatField()
    impact_gain = models.FloatField()
    loss_aversion = models.FloatField()
    refresh_boost = models.FloatField()
    pick_rate = models.FloatField(
        help_text="Chance a customer who remembers a moment picks it (the survey's, fitted too)."
    )
    current = models.JSONField(
        help_text="The five parameters in use when this was proposed (name → value)."
    )
    n_answers = models.PositiveIntegerField()
    n_candidates = models.PositiveIntegerField(help_text="Moments offered across the answers.")
    n_picked = models.PositiveIntegerField()
    log_likelihood_current = models.FloatField(
        help_text="Log-likelihood of the picks under the parameters in use (pick rate fitted)."
    )
    log_likelihood_proposed = models.FloatField()
    auc_current = models.FloatField(help_text="AUC of forecast recall vs picked, in use.")
    auc_proposed = models.FloatField()
    at_bound = models.JSONField(
        default=list, blank=True, help_text="Parameters that ended on a bound: weakly supported."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    PARAMETERS = (
        "base_stability_days",
        "intensity_gain",
        "impact_gain",
        "loss_aversion",
        "refresh_boost",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status__in=["proposed", "applied"]),
                name="memoryfitproposal_one_open_one_applied",
            ),
            # fitting.BOUNDS: the forecast must never run on an absurd value.
            models.CheckConstraint(
                condition=Q(base_stability_days__gte=0.5, base_stability_days__lte=365)
                & Q(intensity_gain__gte=0, intensity_gain__lte=20)
                & Q(impact_gain__gte=0, impact_gain__lte=10)
                & Q(loss_aversion__gte=0.25, loss_aversion__lte=10)
                & Q(refresh_boost__gte=1, refresh_boost__lte=10)
                & Q(pick_rate__gte=0.01, pick_rate__lte=1),
                name="memoryfitproposal_within_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"Memory fit {self.pk} ({self.get_status_display()}, {self.n_answers} answers)"

    @property
    def values(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.PARAMETERS}

    @property
    def log_likelihood_gain(self) -> float:
        return self.log_likelihood_proposed - self.log_likelihood_current

    @property
    def auc_gain(self) -> float:
        return self.auc_proposed - self.auc_current

"""Rules (event → conditions → action), the interventions they schedule, and their effects.

Exactly once in effect: an `Intervention` is unique per (rule, subject, episode key), so a
duplicated event cannot fire a rule twice; every side effect (an email, an alert, a task, a
webhook call, a survey invitation) is keyed by the intervention id under a unique constraint, so a
task re-delivered by django-q2 after a crash does not act twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.template import TemplateSyntaxError
from django.utils import timezone

from interventions import conditions as cond
from interventions import rendering


class EmailTemplate(models.Model):
    """An email written by admins as Django template strings. Context: customer, interaction,
    moment, response, rule, intervention (see docs/interventions.md)."""

    name = models.SlugField(max_length=80, unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Plain text; Django template syntax, e.g. {{ customer.name }}."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        for field in ("subject", "body"):
            try:
                rendering.compile_template(getattr(self, field))
            except TemplateSyntaxError as error:
                errors[field] = f"Template error: {error}"
        if errors:
            raise ValidationError(errors)

    def render(self, context: dict) -> tuple[str, str]:
        """Plain text (not escaped); context from interventions.rendering.context_for."""
        subject = " ".join(rendering.render(self.subject, context).split())
        return subject, rendering.render(self.body, context)


class RuleQuerySet(models.QuerySet):
    def active(self) -> RuleQuerySet:
        return self.filter(active=True)


class Rule(models.Model):
    class Action(models.TextChoices):
        EMAIL = "email", "Send an email from a template"
        ALERT = "alert", "Alert people (in-app + email)"
        TASK = "task", "Create a follow-up task"
        WEBHOOK = "webhook", "Call a webhook"
        SURVEY = "survey", "Send a survey invitation"

    class Episode(models.TextChoices):
        ONCE = "once", "Once per subject"
        DAILY = "daily", "Once per subject per day"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    event = models.CharField(max_length=32, choices=list(cond.EVENTS.items()))
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='All must hold, e.g. [{"field": "sentiment_label", "op": "eq", '
        '"value": "negative"}]. Checked when the event happens.',
    )
    still_true = models.JSONField(
        default=list,
        blank=True,
        help_text="Conditions checked again when a delayed action is due; if one no longer "
        "holds the intervention is skipped (e.g. no positive moment since).",
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    action_config = models.JSONField(default=dict, blank=True)
    delay = models.DurationField(default=timedelta, blank=True, help_text="e.g. 1 00:00:00")
    at_local_hour = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="If set, act at the first such hour (customer's time zone if known) after "
        "the delay — e.g. 9 for 'the next morning'.",
    )
    cooldown = models.DurationField(
        null=True,
        blank=True,
        help_text="At most one intervention of this rule per customer within this time.",
    )
    episode = models.CharField(max_length=8, choices=Episode.choices, default=Episode.ONCE)
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["event"], name="rule_active_event", condition=Q(active=True))
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(at_local_hour__isnull=True) | Q(at_local_hour__lte=23),
                name="rule_at_local_hour_range",
            )
        ]
        permissions = [("toggle_rule", "Can enable and disable rules")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from interventions import actions  # cycle: actions import these models

        errors: dict[str, list[str]] = {}
        for field in ("conditions", "still_true"):
            problems = cond.condition_errors(getattr(self, field), self.event)
            if problems:
                errors[field] = problems
        if self.action:
            problems = actions.config_errors(self.action, self.action_config)
            if problems:
                errors["action_config"] = problems
        if self.delay is not None and self.delay < timedelta(0):
            errors["delay"] = ["The delay cannot be negative."]
        if errors:
            raise ValidationError(errors)


class InterventionQuerySet(models.QuerySet):
    def due(self, at=None) -> InterventionQuerySet:
        return self.filter(
            status=Intervention.Status.SCHEDULED, scheduled_for__lte=at or timezone.now()
        )


class Intervention(models.Model):
    """One firing of a rule for one subject: when it acts, why it fired, what it did."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="interventions")
    event = models.CharField(max_length=32)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    episode_key = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="interventions"
    )
    interaction = models.ForeignKey(
        "customers.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interventions",
    )
    scheduled_for = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # {"event": …, "payload": {…}, "conditions": [{"field", "op", "value", "actual"}, …]}
    why_fired = models.JSONField(default=dict, blank=True)
    # What it did: {"emails": […], "alerts": n, "task": id, "webhook": {…}, "skipped": reason}
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How bad the event was (-sentiment score of a negative one, 0 … 1), when it was negative:
    # within a rule's cool-down only a more severe event fires again (an escalation).
    severity = models.FloatField(null=True, blank=True)

    objects = InterventionQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_type", "subject_id", "episode_key"],
                name="intervention_once_per_rule_subject_episode",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="intervention_status_due"),
            models.Index(fields=["customer", "-created_at"], name="intervention_customer"),
            models.Index(fields=["rule", "customer", "-created_at"], name="intervention_cooldown"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} for customer {self.customer_id} ({self.status})"

    @property
    def can_cancel(self) -> bool:
        return self.status == self.Status.SCHEDULED

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.SKIPPED, self.Status.CANCELLED)

    @property
    def is_due(self) -> bool:
        return self.status == self.Status.SCHEDULED and self.scheduled_for <= timezone.now()


# A priority point weighs as much as this much recency in the inbox (see Alert.rank_at).
ALERT_PRIORITY_STEP = timedelta(hours=6)
# Severity names for the inbox filter: the lowest priority of each (highest first).
ALERT_SEVERITIES = {"high": 8, "medium": 5, "low": 0}


class AlertQuerySet(models.QuerySet):
    def unresolved(self) -> AlertQuerySet:
        return self.exclude(state=Alert.State.RESOLVED)


class Alert(models.Model):
    """An in-app notification for one person about one event (an interaction, when it has
    one: at most one alert per person and interaction, whichever rules matched it).

    One event alerts several people (the owner, the managers): the copies share the
    intervention, and acknowledging or resolving one does so for all (services.py).
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="alerts"
    )
    intervention = models.ForeignKey(
        Intervention, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    interaction = models.ForeignKey(
        "customers.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    text = models.CharField(max_length=500)
    # What the customer wrote (the start of it) and why it matters, in words.
    excerpt = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # Higher first in the inbox: frustration alerts carry a higher priority.
    priority = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # created_at + priority × ALERT_PRIORITY_STEP: the inbox order (priority × recency), stored
    # so that it is one indexed column on any database.
    rank_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["intervention", "recipient"], name="alert_once_per_intervention"
            ),
            models.UniqueConstraint(
                fields=["recipient", "interaction"],
                condition=Q(interaction__isnull=False),
                name="alert_once_per_interaction",
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient"], name="alert_unread", condition=Q(read_at__isnull=True)
            ),
            models.Index(fields=["recipient", "-created_at"], name="alert_inbox"),
            models.Index(fields=["recipient", "state", "-rank_at"], name="alert_inbox_rank"),
            models.Index(
                fields=["customer"],
                name="alert_unresolved_customer",
                condition=~Q(state="resolved"),
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def save(self, *args, **kwargs) -> None:
        self.rank_at = self.created_at + self.priority * ALERT_PRIORITY_STEP
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        """The interaction's anchor on the customer's timeline (the customer when none)."""
        url = self.customer.get_absolute_url()
        return f"{url}#interaction-{self.interaction_id}" if self.interaction_id else url

    @property
    def severity(self) -> str:
        return next(name for name, low in ALERT_SEVERITIES.items() if self.priority >= low)


class FollowUpTask(models.Model):
    """Something an agent should do for a customer, by a due date."""

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followup_tasks"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="followup_tasks"
    )
    intervention = models.OneToOneField(
        Intervention, null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    due = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due", "id"]
        indexes = [
            models.Index(fields=["assignee", "due"], name="task_open", condition=Q(done_at=None))
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due < timezone.now()


class OutboundEmail(models.Model):
    """One email an intervention sends, recorded before it is sent.

    `key` ("<intervention id>:<purpose>:<address>") is unique: a second execution finds the row
    and does not send again. `sending` means a worker claimed it; if the worker died right there
    nobody knows whether the message left, so it is never re-sent automatically (at most once).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True)
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="emails")
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to} ({self.status})"


class EffectLog(models.Model):
    """A non-email side effect (webhook call, survey invitation), keyed like OutboundEmail."""

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True)
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="effects")
    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.STARTED)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.status})"

"""Survey templates, invitations (one tokenised link each) and responses ("what stood out?")."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Interaction, ScoredText

DEFAULT_OPEN_QUESTION = "What part of this experience stood out?"


class Survey(models.Model):
    """A survey template, configured by admins in Django admin."""

    class RatingKind(models.TextChoices):
        CSAT = "csat", "CSAT (1–5)"
        NPS = "nps", "NPS (0–10)"

    name = models.CharField(max_length=120, unique=True)
    intro = models.TextField(blank=True, help_text="Shown above the questions.")
    rating_kind = models.CharField(
        max_length=8, choices=RatingKind.choices, default=RatingKind.CSAT
    )
    rating_question = models.CharField(
        max_length=300, default="How satisfied were you with this experience?"
    )
    open_question = models.CharField(max_length=300, default=DEFAULT_OPEN_QUESTION)
    ask_moments = models.BooleanField(
        default=True,
        help_text="When the invitation names an interaction, offer its moments as choices.",
    )
    thank_you = models.TextField(default="Thank you — your answer helps us get better.")
    link_lifetime_days = models.PositiveSmallIntegerField(default=14)
    reminder_delay_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days after sending to remind an unanswered invitation; 0 = never."
    )
    frequency_limit_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="No customer gets more than one invitation per this many days, across all "
        "surveys.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(link_lifetime_days__gte=1), name="survey_link_lifetime_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rating_range(self) -> range:
        return range(0, 11) if self.rating_kind == self.RatingKind.NPS else range(1, 6)

    @property
    def rating_labels(self) -> tuple[str, str]:
        if self.rating_kind == self.RatingKind.NPS:
            return ("Not at all likely", "Extremely likely")
        return ("Very dissatisfied", "Very satisfied")


class InvitationQuerySet(models.QuerySet):
    def usable(self) -> InvitationQuerySet:
        """Links a customer may still answer: sent or deliverable, unanswered, not expired."""
        return self.filter(
            skipped_reason="", answered_at__isnull=True, expires_at__gt=timezone.now()
        )

    def counted(self) -> InvitationQuerySet:
        """Invitations that reached (or were meant to reach) the customer: not skipped."""
        return self.filter(skipped_reason="")


class Invitation(models.Model):
    """One survey link for one customer (and, when there is one, about one interaction).

    Only SHA-256 hashes of the link tokens are stored (see surveys.tokens). Each email mints
    its own link; `previous_token_hash` keeps the link of the email before it working, so a
    reminder does not break the first email's link. A skipped invitation (opted out, too soon)
    has no token at all and records why.
    """

    class SendStatus(models.TextChoices):
        NOT_SENT = "not_sent", "Not sent (link delivered by the caller)"
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        # Not sent while the customer is on hold (an open alert): sent when released, if due.
        HELD = "held", "Held (open alert)"

    class SkipReason(models.TextChoices):
        OPTED_OUT = "opted_out", "The customer opted out of surveys"
        NO_EMAIL = "no_email", "The customer has no email address"
        UNDELIVERABLE = "undeliverable", "The customer's email address bounced"
        TOO_SOON = "too_soon", "Invited too recently (frequency limit)"
        INACTIVE = "inactive", "The survey is not active"

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invitations")
    interaction = models.ForeignKey(
        Interaction,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_invitations",
    )
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    previous_token_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_invitations",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    send_status = models.CharField(
        max_length=10, choices=SendStatus.choices, default=SendStatus.PENDING
    )
    send_error = models.TextField(blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    sent_to = models.EmailField(max_length=254, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    skipped_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The frequency limit: "was this customer invited in the last N days?"
            models.Index(fields=["customer", "created_at"], name="invitation_customer_created"),
            models.Index(fields=["survey", "created_at"], name="invitation_survey_created"),
            # The reminder sweep reads only sent, unanswered, unreminded rows.
            models.Index(
                fields=["sent_at"],
                name="invitation_reminder_due",
                condition=Q(
                    send_status="sent", answered_at__isnull=True, reminder_sent_at__isnull=True
                ),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(skipped_reason="") | Q(token_hash__isnull=True),
                name="invitation_skipped_has_no_token",
            ),
        ]
        permissions = [("bulk_invite", "Can invite many customers at once")]

    def __str__(self) -> str:
        return f"{self.survey} → {self.customer} ({self.get_send_status_display()})"

    STATE_LABELS = {
        "skipped": "Survey not sent",
        "answered": "Survey answered",
        "expired": "Survey link expired",
        "pending": "Survey sending…",
        "sent": "Survey sent",
        "failed": "Survey email failed",
        "not_sent": "Survey link created",
        "held": "Survey held (open alert)",
    }

    @property
    def state_label(self) -> str:
        return self.STATE_LABELS.get(self.state, self.state)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_skipped(self) -> bool:
        return bool(self.skipped_reason)

    @property
    def state(self) -> str:
        """One word for lists: skipped, answered, expired, failed, sent, pending."""
        if self.skipped_reason:
            return "skipped"
        if self.answered_at:
            return "answered"
        if self.is_expired:
            return "expired"
        return self.send_status


class SurveyHold(models.Model):
    """Do not send this customer surveys for now: asking "what stood out?" of a furious
    customer before the recovery is tone-deaf. Another app opens one (an open alert) and
    releases it by its key; invitations made or due meanwhile wait (send_status "held")."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_holds")
    key = models.CharField(max_length=100, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Surveys held for {self.customer_id}: {self.key}"


class Response(ScoredText):
    """A customer's answer to one invitation: at most one per invitation (OneToOneField is a
    unique constraint in the database; the answer service also locks the invitation row).

    The open answer is a scored text, as an interaction is; its sentiment stays empty until
    scored (surveys.tasks.score_pending).
    """

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="response")
    # Copies of the invitation's survey and customer, so the report filters without joins.
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_responses"
    )
    rating = models.PositiveSmallIntegerField()
    answer = models.TextField(blank=True, max_length=4000)
    # The moments the customer picked ("this stood out") among those offered on the page.
    moments = models.ManyToManyField("moments.Moment", blank=True, related_name="survey_responses")
    # The moment this answer became (it named none and was charged: see docs/survey-moments.md),
    # one at most. The link lives here because surveys may know moments, never the reverse.
    moment = models.OneToOneField(
        "moments.Moment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_response",
        help_text="The moment this answer became (source: survey); not one it picked.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(ScoredText.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["survey", "created_at"], name="response_survey_created"),
            models.Index(fields=["customer", "created_at"], name="response_customer_created"),
            models.Index(
                fields=["created_at"],
                name="response_pending_score",
                condition=Q(scored_at__isnull=True) & ~Q(answer=""),
            ),
        ]
        constraints = [
            *ScoredText.Meta.constraints,
            models.CheckConstraint(
                condition=Q(rating__gte=0) & Q(rating__lte=10), name="response_rating_range"
            ),
        ]
        permissions = [("view_report", "Can see the survey report and export answers")]

    def __str__(self) -> str:
        return f"Response {self.pk} to invitation {self.invitation_id}: {self.rating}"

    def clean(self) -> None:
        if (
            self.survey_id
            and self.rating is not None
            and self.rating not in self.survey.rating_range
        ):
            low, high = self.survey.rating_range[0], self.survey.rating_range[-1]
            raise ValidationError({"rating": f"Choose a rating from {low} to {high}."})


class TagWeightProposal(models.Model):
    """A proposed impact weight for a moment tag, estimated from survey outcomes by
    ``recalibrate_tags`` (see surveys.recalibration), with its evidence. Proposals change
    nothing until an admin applies them (admin action); a newer run supersedes older ones."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPLIED = "applied", "Applied"
        SUPERSEDED = "superseded", "Superseded"

    tag = models.ForeignKey(
        "moments.MomentTag", on_delete=models.CASCADE, related_name="weight_proposals"
    )
    current_weight = models.FloatField(help_text="The tag's weight when this was proposed.")
    proposed_weight = models.FloatField()
    n_with = models.PositiveIntegerField(help_text="Answers whose moments carry the tag.")
    n_without = models.PositiveIntegerField(help_text="Answers whose moments do not.")
    mean_with = models.FloatField(help_text="Mean rating on −1…1 with the tag.")
    mean_without = models.FloatField(help_text="Mean rating on −1…1 without it.")
    effect = models.FloatField(help_text="mean_with − mean_without: how the tag moves ratings.")
    t_stat = models.FloatField(help_text="Welch's t of the effect (|t| ≥ 2: unlikely chance).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "tag_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tag"],
                condition=Q(status="proposed"),
                name="tagweightproposal_one_open_per_tag",
            ),
            models.CheckConstraint(
                condition=Q(proposed_weight__gte=0) & Q(proposed_weight__lte=10),
                name="tagweightproposal_weight_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tag}: {self.current_weight:g} → {self.proposed_weight:g}"


class ForecastEvidence(models.Model):
    """One of the customer's moments as the memory forecast saw it when they answered a survey:
    its forecast recall at that time, the features the forecast was computed from (the input
    of moments.memory.fitting, so the fit can recompute it under other parameters), whether
    the answer page offered it, and whether the customer picked it as what stood out. Written
    with the answer, in the same transaction (surveys.services.answers); one row per
    (response, moment) that existed (live, not in the future) at the answer's time."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="evidence")
    # The moment may be deleted later (erasure, a rescore): the evidence keeps its figures.
    moment = models.ForeignKey(
        "moments.Moment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recall = models.FloatField(help_text="Forecast recall of the moment at the answer's time.")
    age_days = models.FloatField()
    intensity = models.FloatField()
    polarity = models.CharField(max_length=8)
    tag_weights = models.JSONField(default=list, blank=True)
    stage_weight = models.FloatField(default=1.0)
    refresh_ages = models.JSONField(
        default=list, blank=True, help_text="Days after the moment it was refreshed, by then."
    )
    offered = models.BooleanField(help_text="The answer page offered it to pick.")
    picked = models.BooleanField()

    class Meta:
        ordering = ["response_id", "id"]
        verbose_name_plural = "forecast evidence"
        constraints = [
            models.UniqueConstraint(
                fields=["response", "moment"], name="forecastevidence_one_per_moment"
            ),
            models.CheckConstraint(
                condition=Q(recall__gte=0) & Q(recall__lte=1), name="forecastevidence_recall"
            ),
            models.CheckConstraint(
                condition=Q(offered=True) | Q(picked=False),
                name="forecastevidence_picked_was_offered",
            ),
        ]

    def __str__(self) -> str:
        return f"Evidence of response {self.response_id} on moment {self.moment_id}"

    def as_candidate(self) -> dict:
        """The row as moments.memory.fitting reads a candidate."""
        return {
            "age_days": self.age_days,
            "intensity": self.intensity,
            "polarity": self.polarity,
            "tag_weights": list(self.tag_weights),
            "stage_weight": self.stage_weight,
            "refresh_ages": list(self.refresh_ages),
            "picked": self.picked,
        }

"""The sentiment model's versions, the scoring requests it serves, and agents' corrections."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Interaction


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

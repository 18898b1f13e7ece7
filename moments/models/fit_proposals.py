"""The forecast's parameters, fitted on survey answers (moments/memory/parameters.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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

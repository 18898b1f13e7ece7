"""The journey map's daily rollup of live moments (moments/memory/rollup.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce

from moments.models.memory import MomentTag, Polarity


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

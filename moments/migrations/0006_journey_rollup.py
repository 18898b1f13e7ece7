"""The journey map's daily rollup (moments/memory_rollup.py), filled from the moments already
there."""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone


def fill(apps, schema_editor) -> None:
    """The rollup of the existing live moments (the same GROUP BY as memory_rollup, written
    against the historical models)."""
    db = schema_editor.connection.alias
    Moment = apps.get_model("moments", "Moment")
    JourneyRollup = apps.get_model("moments", "JourneyRollup")
    now = timezone.now()
    rows = (
        Moment.objects.using(db)
        .filter(dismissed=False)
        .values(
            r_day=TruncDate("occurred_at", tzinfo=timezone.get_default_timezone()),
            r_stage=F("stage_id"),
            r_tag=F("taggings__tag_id"),
            r_polarity=F("polarity"),
        )
        .annotate(
            r_count=Count("id"),
            r_impact=Sum("impact"),
            r_remembered=Sum(F("impact") * F("recall_now")),
        )
        .order_by()
    )
    batch = []
    for row in rows.iterator(chunk_size=2000):
        batch.append(
            JourneyRollup(
                day=row["r_day"],
                stage_id=row["r_stage"],
                tag_id=row["r_tag"],
                polarity=row["r_polarity"],
                moment_count=row["r_count"],
                impact_sum=row["r_impact"],
                remembered_sum=row["r_remembered"],
                refreshed_at=now,
            )
        )
        if len(batch) >= 2000:
            JourneyRollup.objects.using(db).bulk_create(batch)
            batch = []
    JourneyRollup.objects.using(db).bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_interaction_recent_index"),
        ("moments", "0005_moment_survey_source"),
    ]

    operations = [
        migrations.CreateModel(
            name="JourneyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "polarity",
                    models.CharField(
                        choices=[
                            ("positive", "Positive"),
                            ("negative", "Negative"),
                            ("neutral", "Neutral"),
                        ],
                        max_length=8,
                    ),
                ),
                ("moment_count", models.PositiveIntegerField()),
                ("impact_sum", models.FloatField()),
                ("remembered_sum", models.FloatField(help_text="Sum of impact x recall now.")),
                ("refreshed_at", models.DateTimeField()),
                (
                    "stage",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.journeystage",
                    ),
                ),
                (
                    "tag",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="Empty: the moments without a tag.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="moments.momenttag",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        models.F("day"),
                        django.db.models.functions.comparison.Coalesce("stage", models.Value(0)),
                        django.db.models.functions.comparison.Coalesce("tag", models.Value(0)),
                        models.F("polarity"),
                        name="journeyrollup_day_cell_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]

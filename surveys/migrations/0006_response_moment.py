"""The moment an answer became (source: survey). The link lives on the surveys side: surveys
may depend on moments, never the reverse (docs/survey-moments.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("moments", "0005_moment_survey_source"),
        ("surveys", "0005_recalibration_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="response",
            name="moment",
            field=models.OneToOneField(
                blank=True,
                help_text="The moment this answer became (source: survey); not one it picked.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="source_response",
                to="moments.moment",
            ),
        ),
    ]

"""When the customer recalled a moment (picked it in a survey answer): each a refresh."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("moments", "0006_journey_rollup"),
    ]

    operations = [
        migrations.AddField(
            model_name="moment",
            name="recalled_at",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
    ]

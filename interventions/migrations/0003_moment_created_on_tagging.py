"""The event "moment.created" also fires when an agent tags an existing moment (its label)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("interventions", "0002_default_rules_and_roles"),
    ]

    operations = [
        migrations.AlterField(
            model_name="rule",
            name="event",
            field=models.CharField(
                choices=[
                    ("interaction.logged", "Interaction logged"),
                    ("interaction.scored", "Interaction scored (sentiment known)"),
                    ("moment.created", "Memory moment created (or tagged later by an agent)"),
                    ("survey.answered", "Survey answered"),
                    ("memory.at_risk", "Customer memory at risk (daily check)"),
                    ("stage.reached", "Journey stage reached (first interaction in a new stage)"),
                    ("schedule.daily", "Daily, for each customer awaiting a reply"),
                ],
                max_length=32,
            ),
        ),
    ]

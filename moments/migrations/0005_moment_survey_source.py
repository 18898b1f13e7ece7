"""A moment's source: an interaction, or a survey answer that named no moment (source
"survey"), whose text and sentiment the moment keeps.

Moments knows nothing of surveys (imports and migrations go customers <- moments <- surveys):
the link from an answer to its moment is surveys.Response.moment, added by surveys 0006, which
depends on this migration, never the reverse. Existing moments all come from interactions.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("moments", "0004_memory_taxonomy_and_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="moment",
            name="source",
            field=models.CharField(
                choices=[("interaction", "Interaction"), ("survey", "Survey answer")],
                default="interaction",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="moment",
            name="source_text",
            field=models.TextField(
                blank=True, help_text="A survey moment's answer, as the customer wrote it."
            ),
        ),
        migrations.AddField(
            model_name="moment",
            name="source_score",
            field=models.FloatField(
                blank=True, help_text="A survey moment's answer sentiment, -1 to 1.", null=True
            ),
        ),
        migrations.AddField(
            model_name="moment",
            name="source_confidence",
            field=models.FloatField(
                blank=True, help_text="The confidence of that sentiment, 0 to 1.", null=True
            ),
        ),
        migrations.AddConstraint(
            model_name="moment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("source", "interaction"),
                    models.Q(
                        ("interaction__isnull", True),
                        ("source", "survey"),
                        models.Q(("source_text", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="moment_source_consistent",
                violation_error_message="A survey answer's moment has the answer's text and no "
                "interaction.",
            ),
        ),
    ]

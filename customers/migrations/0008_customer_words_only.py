"""Customer words only: an agent's reply (outbound) or internal note carries no customer
sentiment. Scores such rows received before are cleared, and the pending index keeps only the
customer's words (agents' notes would otherwise sit in it, unscored, forever).

Silent on purpose: a plain UPDATE, no signal, no task, so no alert, email or rule fires (like
the switch-over rescoring, this is a correction of history, not news). Agents' corrections of
such rows (moments.SentimentCorrection) are kept as training examples; only the interaction's
fields are cleared.
"""

from django.conf import settings
from django.db import migrations, models


def clear_agent_sentiment(apps, schema_editor):
    Interaction = apps.get_model("customers", "Interaction")
    Interaction.objects.exclude(direction="inbound").filter(
        models.Q(scored_at__isnull=False)
        | ~models.Q(sentiment_label="")
        | models.Q(sentiment_score__isnull=False)
    ).update(
        sentiment_label="",
        sentiment_score=None,
        sentiment_confidence=None,
        sentiment_model="",
        scored_at=None,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_email_channel"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(clear_agent_sentiment, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(
            model_name="interaction",
            name="interaction_pending",
        ),
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(
                condition=models.Q(("direction", "inbound"), ("scored_at__isnull", True)),
                fields=["occurred_at"],
                name="interaction_pending",
            ),
        ),
    ]

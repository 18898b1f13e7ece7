from django.db import migrations, models
from django.db.models import Q


def rescore_out_of_range(apps, schema_editor):
    """No writer ever stored a confidence outside 0 … 1, but the check below would refuse to be
    added over one: such an answer goes back to pending, and the scheduled scoring redoes it."""
    Response = apps.get_model("surveys", "Response")
    Response.objects.filter(Q(sentiment_confidence__lt=0) | Q(sentiment_confidence__gt=1)).update(
        sentiment_label="",
        sentiment_score=None,
        sentiment_confidence=None,
        sentiment_model="",
        scored_at=None,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0006_response_moment"),
    ]

    operations = [
        migrations.RunPython(rescore_out_of_range, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="response",
            constraint=models.CheckConstraint(
                condition=Q(sentiment_confidence__isnull=True)
                | (Q(sentiment_confidence__gte=0) & Q(sentiment_confidence__lte=1)),
                name="response_sentiment_confidence_range",
            ),
        ),
    ]

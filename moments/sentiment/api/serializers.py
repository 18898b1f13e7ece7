from __future__ import annotations

from django.conf import settings
from rest_framework import serializers


class ScoreRequestSerializer(serializers.Serializer):
    """A batch of texts to score. The caps keep one request from holding the model for long."""

    texts = serializers.ListField(
        child=serializers.CharField(allow_blank=False, trim_whitespace=True),
        allow_empty=False,
        help_text=(
            "1 to SENTIMENT_API_MAX_TEXTS texts, each up to SENTIMENT_API_MAX_CHARS chars, "
            "SENTIMENT_API_MAX_TOTAL_CHARS in all."
        ),
    )

    def validate_texts(self, texts: list[str]) -> list[str]:
        max_texts, max_chars = settings.SENTIMENT_API_MAX_TEXTS, settings.SENTIMENT_API_MAX_CHARS
        if len(texts) > max_texts:
            raise serializers.ValidationError(f"At most {max_texts} texts per request.")
        too_long = {
            str(i): [f"At most {max_chars} characters (this one has {len(t)})."]
            for i, t in enumerate(texts)
            if len(t) > max_chars
        }
        if too_long:
            raise serializers.ValidationError(too_long)
        # Each text under its cap is not enough: 64 long texts held a web worker past its timeout.
        max_total, total = settings.SENTIMENT_API_MAX_TOTAL_CHARS, sum(map(len, texts))
        if total > max_total:
            raise serializers.ValidationError(
                f"At most {max_total} characters in all per request (these have {total})."
            )
        return texts


class ScoreSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=["negative", "neutral", "positive"])
    score = serializers.FloatField(help_text="P(positive) - P(negative), in [-1, 1].")
    confidence = serializers.FloatField(help_text="Probability of the label, in [0, 1].")


class ScoreResponseSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="Version of the model that scored the texts.")
    results = ScoreSerializer(many=True)


class PendingSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The scoring request.")
    status = serializers.CharField(help_text="queued: a worker has not scored it yet.")
    url = serializers.URLField(help_text="Where the scores will be (GET; also in Location).")


class SentimentModelSerializer(serializers.Serializer):
    kind = serializers.CharField()
    status = serializers.CharField()
    version = serializers.CharField()
    progress = serializers.FloatField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    metrics = serializers.DictField(source="metadata.metrics", default=dict)
    vader = serializers.DictField(source="metadata.vader", default=dict)


class StatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["ready", "training", "unavailable", "failed"])
    message = serializers.CharField()
    pending = serializers.IntegerField(
        help_text="Interactions waiting to be scored (the customer's words only: agents' replies "
        "and internal notes are never scored)."
    )
    active = SentimentModelSerializer(allow_null=True)
    training = SentimentModelSerializer(allow_null=True)

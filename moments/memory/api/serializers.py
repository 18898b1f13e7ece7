"""Serializers of the memory moments API (moments.memory.api.views): moments, the tag
taxonomy, a customer's memory summary and the journey heatmap."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from moments.models import Moment, MomentTag, Polarity, TagCategory


class TagCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = TagCategory
        fields = ["id", "name", "slug", "description", "order"]


class MomentTagSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = MomentTag
        fields = [
            "id",
            "name",
            "slug",
            "category",
            "polarity",
            "weight",
            "colour",
            "description",
            "active",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    detail = serializers.CharField()


class MomentSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    stage = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    likely_remembered_in_30_days = serializers.FloatField(
        source="likely_remembered",
        read_only=True,
        help_text="The one recall figure (0 to 1), as the web pages show it: forecast recall 30 "
        "days after the forecast was made (`computed_at`, refreshed daily and on every change).",
    )
    recall = serializers.SerializerMethodField(
        help_text="Details of the forecast: recall now and 7 / 30 / 365 days after the moment "
        "happened, and the memory's stability in days."
    )
    dismissed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    source = serializers.ChoiceField(
        choices=Moment.Source.choices,
        read_only=True,
        help_text="Where the moment comes from: an interaction (`interaction`) or a survey answer "
        "that named no moment (`source_text`; the answer's `moment` in /api/v1/responses/ "
        "links back).",
    )
    source_text = serializers.CharField(
        read_only=True, help_text="A survey moment's answer text (empty for an interaction's)."
    )

    class Meta:
        model = Moment
        fields = [
            "id",
            "customer",
            "source",
            "interaction",
            "source_text",
            "stage",
            "occurred_at",
            "tags",
            "polarity",
            "intensity",
            "impact",
            "reasons",
            "detected_by",
            "likely_remembered_in_30_days",
            "recall",
            "refresh_count",
            "dismissed",
            "dismissed_reason",
            "dismissed_by",
            "dismissed_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_recall(self, moment: Moment) -> dict[str, float]:
        return {
            "now": moment.recall_now,
            "day_7": moment.recall_7,
            "day_30": moment.recall_30,
            "day_365": moment.recall_365,
            "stability_days": moment.stability_days,
        }


class _TagSlugs(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=MomentTag.objects.all(), **kwargs)

    def to_internal_value(self, data):
        # PostgreSQL cannot compare text with a NUL byte; refuse it before the lookup.
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class PromoteSerializer(serializers.Serializer):
    interaction = serializers.IntegerField()
    tags = serializers.ListField(child=_TagSlugs(), required=False, default=list)
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class TagsUpdateSerializer(serializers.Serializer):
    tags = serializers.ListField(child=_TagSlugs())


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class RememberedSerializer(serializers.Serializer):
    likely_remembered_in_30_days = serializers.FloatField(source="likely_remembered")
    moment = MomentSerializer()


class MemorySummarySerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer.pk")
    balance = serializers.FloatField()
    trend = serializers.FloatField()
    direction = serializers.CharField()
    at_risk = serializers.BooleanField()
    story = serializers.CharField(
        source="story.sentence", help_text="The balance in words, as the customer page says it."
    )
    leaning = serializers.ChoiceField(
        source="story.leaning", choices=["positive", "negative", "balanced", "empty"]
    )
    moment_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    top = RememberedSerializer(many=True)


class HeatmapQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    polarity = serializers.ChoiceField(choices=Polarity.choices, required=False, default="")


class HeatmapStageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class HeatmapTagSerializer(HeatmapStageSerializer):
    polarity = serializers.CharField()


class HeatmapCellSerializer(serializers.Serializer):
    stage = serializers.IntegerField(allow_null=True)
    tag = serializers.IntegerField(allow_null=True, help_text="null: the untagged moments")
    count = serializers.IntegerField()
    mean_impact = serializers.FloatField()
    remembered_impact = serializers.FloatField(help_text="sum(impact x recall now) / count")


# One object, though the viewset's action is `list`: without many=False the schema says array.
@extend_schema_serializer(many=False)
class HeatmapSerializer(serializers.Serializer):
    stages = HeatmapStageSerializer(many=True)
    tags = HeatmapTagSerializer(many=True)
    cells = HeatmapCellSerializer(many=True)

from __future__ import annotations

from rest_framework import serializers

from customers.access import customers_visible_to, interactions_visible_to
from customers.models import SENTIMENT_FIELDS, Customer, Interaction
from surveys.models import Invitation, Response, Survey


class SurveySerializer(serializers.ModelSerializer):
    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "intro",
            "rating_kind",
            "rating_question",
            "open_question",
            "ask_moments",
            "thank_you",
            "link_lifetime_days",
            "reminder_delay_days",
            "frequency_limit_days",
            "active",
        ]


class InvitationSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "survey",
            "customer",
            "interaction",
            "state",
            "send_status",
            "send_error",
            "skipped_reason",
            "created_by",
            "created_at",
            "expires_at",
            "sent_at",
            "reminder_sent_at",
            "answered_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    """Input only; the viewset calls surveys.services.create_invitation."""

    survey = serializers.PrimaryKeyRelatedField(queryset=Survey.objects.all())
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none())
    interaction = serializers.PrimaryKeyRelatedField(
        queryset=Interaction.objects.none(), required=False, allow_null=True
    )
    send = serializers.BooleanField(
        default=True,
        help_text="Email the link (default). With false, deliver the returned link yourself.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Another agent's customer is "does not exist", like an unknown id.
            self.fields["customer"].queryset = customers_visible_to(request.user)
            self.fields["interaction"].queryset = interactions_visible_to(request.user)


class InvitationCreatedSerializer(InvitationSerializer):
    """The answer to a create: the invitation, plus its link — shown this once, never again."""

    token = serializers.CharField(read_only=True, allow_null=True)
    url = serializers.CharField(read_only=True, allow_null=True)

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "token", "url"]
        read_only_fields = fields


class ResponseSerializer(serializers.ModelSerializer):
    interaction = serializers.IntegerField(source="invitation.interaction_id", read_only=True)
    moments = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The moments the customer picked as standing out."
    )
    moment = serializers.PrimaryKeyRelatedField(
        read_only=True,
        help_text="The moment this answer became (it picked none and was emotionally charged): "
        "a moment with source `survey` in /api/v1/moments/. Null otherwise.",
    )

    class Meta:
        model = Response
        fields = [
            "id",
            "invitation",
            "survey",
            "customer",
            "interaction",
            "rating",
            "answer",
            "moments",
            "moment",
            "created_at",
            *SENTIMENT_FIELDS,
        ]
        read_only_fields = fields


class CalibrationRowSerializer(serializers.Serializer):
    decile = serializers.IntegerField(help_text="1 = the lowest forecasts.")
    n = serializers.IntegerField(help_text="Moments offered in this decile.")
    forecast_low = serializers.FloatField()
    forecast_high = serializers.FloatField()
    mean_forecast = serializers.FloatField(help_text="Mean forecast recall.")
    predicted_rate = serializers.FloatField(help_text="Mean pick probability: pick rate × recall.")
    observed_rate = serializers.FloatField(help_text="Share the customers picked.")


class ForecastQualitySerializer(serializers.Serializer):
    n_answers = serializers.IntegerField(help_text="Answers whose page offered moments.")
    n_candidates = serializers.IntegerField(help_text="Moments offered across them.")
    n_picked = serializers.IntegerField()
    min_answers = serializers.IntegerField()
    ready = serializers.BooleanField(help_text="False: not enough evidence (see problem).")
    problem = serializers.CharField(help_text="Why there is no verdict yet; empty when ready.")
    auc = serializers.FloatField(
        allow_null=True, help_text="AUC of forecast recall vs picked, parameters in use."
    )
    auc_recorded = serializers.FloatField(
        allow_null=True, help_text="AUC of the recall as forecast at each answer's time."
    )
    pick_rate = serializers.FloatField(allow_null=True)
    calibration = CalibrationRowSerializer(many=True)
    applied_fit = serializers.SerializerMethodField(
        help_text="Id of the applied memory fit in use; null: the settings' parameters."
    )

    def get_applied_fit(self, obj) -> int | None:
        return obj.applied_fit.pk if obj.applied_fit else None

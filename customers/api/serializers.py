"""Shapes of customers, interactions and journey stages in the API.

Serializers only check the shape and types of the input; the rules (unique email, a time zone
that exists, no interaction in the future, …) live in the models and services the viewsets call.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.access import customers_visible_to
from customers.channels.conversations import CHANNEL_CHOICES
from customers.models import SENTIMENT_FIELDS, Conversation, Customer, Interaction, JourneyStage
from customers.services import CUSTOMER_FIELDS


def _id_field() -> serializers.IntegerField:
    # Parses the id before the lookup, so 1.5 is a 400 rather than silently customer 1.
    return serializers.IntegerField()


class OwnerField(serializers.PrimaryKeyRelatedField):
    """The owning user, by id: an active user in a role (the same choice the HTML form offers)."""

    def get_queryset(self) -> QuerySet:
        return (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=["Agent", "Manager", "Admin"])
            .distinct()
        )


class VisibleCustomerField(serializers.PrimaryKeyRelatedField):
    """A customer, by id, among those the requesting user may see. Another agent's customer is
    reported exactly like an id that does not exist."""

    def get_queryset(self) -> QuerySet[Customer]:
        request = self.context.get("request")
        if request is None:
            return Customer.objects.none()
        return customers_visible_to(request.user)


class StageField(serializers.SlugRelatedField):
    """A journey stage by slug (`complaint`), which integrators can hard-code across databases."""

    def to_internal_value(self, data):
        # PostgreSQL cannot compare text with a NUL byte; refuse it before the lookup.
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class CustomerSerializer(serializers.ModelSerializer):
    owner = OwnerField(
        pk_field=_id_field(),
        allow_null=True,
        required=False,
        help_text="Id of the user who owns the customer (an active Agent, Manager or Admin).",
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            *CUSTOMER_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class AttachmentSerializer(serializers.Serializer):
    """An attachment of an inbound email: listed, never kept, read or scored."""

    name = serializers.CharField(help_text="The file name the sender gave (or `unnamed.<type>`).")
    size = serializers.IntegerField(help_text="Bytes, decoded.")
    content_type = serializers.CharField(help_text="MIME type as sent, e.g. `application/pdf`.")


class InteractionSerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField(pk_field=_id_field(), help_text="Id of the customer.")
    stage = StageField(
        slug_field="slug",
        queryset=JourneyStage.objects.all(),
        allow_null=True,
        required=False,
        help_text="Slug of the journey stage (see /api/v1/stages/), e.g. `complaint`.",
    )
    sentiment_state = serializers.ChoiceField(
        choices=[("scored", "scored"), ("pending", "pending"), ("not_scored", "not_scored")],
        read_only=True,
        help_text="`scored`, `pending` (the customer's words, not scored yet) or `not_scored` "
        "(an agent's reply or internal note: only the customer's own words carry sentiment).",
    )
    attachments = serializers.SerializerMethodField(
        help_text="For an interaction made from a customer's email: its attachments (name, size, "
        "type), listed only; their content is not kept. Empty otherwise."
    )

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "channel",
            "direction",
            "occurred_at",
            "stage",
            "subject",
            "body",
            "external_ref",
            "agent",
            "created_at",
            *SENTIMENT_FIELDS,
            "sentiment_state",
            "attachments",
        ]
        # The agent is whoever logs the interaction; the sentiment fields belong to the scoring
        # pipeline and stay empty ("pending") until it has run; for an agent's reply or
        # internal note they stay empty for good ("not_scored": customer words only).
        read_only_fields = [
            "agent",
            "created_at",
            *SENTIMENT_FIELDS,
        ]
        extra_kwargs = {
            "occurred_at": {"help_text": "When it happened (ISO 8601); defaults to now."},
        }

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, interaction: Interaction) -> list:
        email = getattr(interaction, "inbound_email", None)  # absent: not from an email
        listed = [a for a in (email.attachments if email else []) if isinstance(a, dict)]
        return AttachmentSerializer(listed, many=True).data


class JourneyStageSerializer(serializers.ModelSerializer):
    class Meta:
        model = JourneyStage
        fields = ["id", "name", "slug", "order", "is_critical", "weight", "description"]


class TurnSerializer(serializers.Serializer):
    speaker = serializers.ChoiceField(
        choices=Conversation.Speaker.choices, help_text="`customer` or `agent`."
    )
    text = serializers.CharField(help_text="What they said in this turn.")


class ConversationInSerializer(serializers.Serializer):
    """A chat or call transcript, as an integrator sends it (shape only: the caps and rules
    are customers.channels.conversations.validate's)."""

    customer = VisibleCustomerField(pk_field=_id_field(), help_text="Id of the customer.")
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES, help_text="`chat` or `call`.")
    external_id = serializers.CharField(
        max_length=100,
        help_text="The conversation's id in your system. Sending it again returns the "
        "conversation already stored (200) instead of storing a second one (201).",
    )
    started_at = serializers.DateTimeField(help_text="When it started (ISO 8601).")
    ended_at = serializers.DateTimeField(help_text="When it ended (ISO 8601).")
    stage = StageField(
        slug_field="slug",
        queryset=JourneyStage.objects.all(),
        allow_null=True,
        required=False,
        help_text="Slug of the journey stage, e.g. `complaint`.",
    )
    turns = serializers.ListField(
        child=TurnSerializer(),
        allow_empty=False,
        help_text="The turns in the order spoken. Only the customer's turns are scored.",
    )
    metadata = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Your own fields (a JSON object), kept and shown, never scored.",
    )


class ConversationSerializer(serializers.ModelSerializer):
    """A stored conversation: its interaction, the transcript and the sentiment trajectory."""

    external_id = serializers.CharField(source="external_ref", read_only=True)
    stage = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    started_at = serializers.DateTimeField(source="conversation.started_at", read_only=True)
    ended_at = serializers.DateTimeField(source="conversation.ended_at", read_only=True)
    turns = serializers.ListField(
        child=TurnSerializer(), source="conversation.turns", read_only=True
    )
    metadata = serializers.JSONField(source="conversation.metadata", read_only=True)
    opening_score = serializers.FloatField(
        source="conversation.opening_score",
        allow_null=True,
        read_only=True,
        help_text="Sentiment of the customer's first turn (-1 … 1); empty until scored.",
    )
    ending_score = serializers.FloatField(
        source="conversation.ending_score",
        allow_null=True,
        read_only=True,
        help_text="Sentiment of the customer's last turn (-1 … 1); empty until scored.",
    )

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "channel",
            "external_id",
            "started_at",
            "ended_at",
            "stage",
            "turns",
            "metadata",
            "opening_score",
            "ending_score",
            *SENTIMENT_FIELDS,
            "created_at",
        ]
        read_only_fields = fields

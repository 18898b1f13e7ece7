from __future__ import annotations

from rest_framework import serializers

from interventions.models import Alert, FollowUpTask, Intervention, Rule
from memorycrm.audit.masking import REDACTED, names_a_secret, redact


class RuleSerializer(serializers.ModelSerializer):
    """A webhook rule's signing secret is write-only: answers show it as "***", and sending
    "***" back (a client echoing what it read) keeps the stored secret."""

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "event",
            "conditions",
            "still_true",
            "action",
            "action_config",
            "delay",
            "at_local_hour",
            "cooldown",
            "episode",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Rule) -> dict:
        data = super().to_representation(instance)
        data["action_config"] = redact(data["action_config"])
        return data

    def validate_action_config(self, value):
        stored = self.instance.action_config if self.instance else {}
        if isinstance(value, dict) and isinstance(stored, dict):
            value = {
                key: stored.get(key) if item == REDACTED and names_a_secret(key) else item
                for key, item in value.items()
            }
        return value


class InterventionSerializer(serializers.ModelSerializer):
    rule = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    subject_type = serializers.CharField(source="subject_type.model", read_only=True)

    class Meta:
        model = Intervention
        fields = [
            "id",
            "rule",
            "event",
            "subject_type",
            "subject_id",
            "episode_key",
            "customer",
            "interaction",
            "scheduled_for",
            "status",
            "attempts",
            "last_error",
            "why_fired",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    severity = serializers.CharField(read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "customer",
            "customer_name",
            "intervention",
            "interaction",
            "url",
            "text",
            "excerpt",
            "reason",
            "priority",
            "severity",
            "state",
            "created_at",
            "read_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class FollowUpTaskSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "customer",
            "customer_name",
            "intervention",
            "title",
            "notes",
            "due",
            "created_at",
            "done_at",
        ]
        read_only_fields = fields

import json

from django import forms
from django.contrib import admin

from interventions import services
from interventions.models import (
    Alert,
    EffectLog,
    EmailTemplate,
    FollowUpTask,
    Intervention,
    OutboundEmail,
    Rule,
)
from memorycrm.audit.masking import redact


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "subject", "updated_at"]
    search_fields = ["name", "subject"]


class RuleListForm(forms.ModelForm):
    """A row of the rules list: its "active" box is named after the rule (the list's boxes have
    no label of their own, so a screen reader would read "checkbox" a dozen times)."""

    class Meta:
        model = Rule
        fields = ["active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["active"].widget.attrs["aria-label"] = f"{self.instance.name}: active"


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["name", "event", "action", "delay", "at_local_hour", "cooldown", "active"]
    list_filter = ["active", "event", "action"]
    list_editable = ["active"]

    def get_changelist_form(self, request, **kwargs):
        return RuleListForm

    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "active"]}),
        ("When", {"fields": ["event", "conditions", "still_true"]}),
        ("What", {"fields": ["action", "action_config"]}),
        ("Timing", {"fields": ["delay", "at_local_hour", "cooldown", "episode"]}),
    ]
    readonly_fields = ["action_config_redacted"]

    def get_fieldsets(self, request, obj=None):
        # Who may only view a rule (managers) sees its config with the webhook secret masked,
        # as the API and the audit log show it; who may change it edits the real value.
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (title, {**options, "fields": [self._redacted(name) for name in options["fields"]]})
            for title, options in fieldsets
        ]

    @staticmethod
    def _redacted(name: str) -> str:
        return "action_config_redacted" if name == "action_config" else name

    @admin.display(description="Action config")
    def action_config_redacted(self, rule: Rule) -> str:
        return json.dumps(redact(rule.action_config), indent=2, sort_keys=True)


@admin.register(Intervention)
class InterventionAdmin(admin.ModelAdmin):
    list_display = ["id", "rule", "customer", "status", "scheduled_for", "attempts", "finished_at"]
    list_filter = ["status", "rule"]
    list_select_related = ["rule", "customer"]
    search_fields = ["customer__name", "customer__email"]
    raw_id_fields = ["customer", "interaction", "cancelled_by"]
    date_hierarchy = "scheduled_for"
    actions = ["cancel", "retry"]
    readonly_fields = [
        "rule",
        "event",
        "subject_type",
        "subject_id",
        "episode_key",
        "why_fired",
        "result",
        "attempts",
        "last_error",
        "started_at",
        "finished_at",
        "created_at",
    ]

    @admin.action(description="Cancel the selected scheduled interventions")
    def cancel(self, request, queryset):
        for intervention in queryset.filter(status=Intervention.Status.SCHEDULED):
            services.cancel_intervention(intervention=intervention, by=request.user)

    @admin.action(description="Retry the selected failed/skipped/cancelled interventions")
    def retry(self, request, queryset):
        for intervention in queryset.filter(
            status__in=(
                Intervention.Status.FAILED,
                Intervention.Status.SKIPPED,
                Intervention.Status.CANCELLED,
            )
        ):
            services.retry_intervention(intervention=intervention, by=request.user)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["text", "recipient", "customer", "priority", "created_at", "read_at"]
    list_filter = ["priority"]
    list_select_related = ["recipient", "customer"]
    raw_id_fields = ["recipient", "customer", "intervention"]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(admin.ModelAdmin):
    list_display = ["title", "assignee", "customer", "due", "done_at"]
    list_select_related = ["assignee", "customer"]
    raw_id_fields = ["assignee", "customer", "intervention", "done_by"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to", "status", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to", "key"]
    raw_id_fields = ["intervention"]


@admin.register(EffectLog)
class EffectLogAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "status", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["intervention"]

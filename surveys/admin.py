from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from customers.models import SENTIMENT_FIELDS
from surveys import services
from surveys.models import Invitation, Response, Survey, TagWeightProposal


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "rating_kind",
        "active",
        "link_lifetime_days",
        "reminder_delay_days",
        "frequency_limit_days",
        "invitation_count",
        "response_count",
    ]
    list_filter = ["active", "rating_kind"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "active", "intro"]}),
        (
            "Questions",
            {"fields": ["rating_kind", "rating_question", "open_question", "ask_moments"]},
        ),
        ("After answering", {"fields": ["thank_you"]}),
        (
            "Links and contact",
            {"fields": ["link_lifetime_days", "reminder_delay_days", "frequency_limit_days"]},
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_invitations=Count(
                    "invitations", filter=Q(invitations__skipped_reason=""), distinct=True
                ),
                n_responses=Count("responses", distinct=True),
            )
        )

    @admin.display(description="Invitations", ordering="n_invitations")
    def invitation_count(self, obj: Survey) -> int:
        return obj.n_invitations

    @admin.display(description="Responses", ordering="n_responses")
    def response_count(self, obj: Survey) -> int:
        return obj.n_responses


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-mostly: invitations are made by agents, managers, the API and rules, never here
    (the link token would have nowhere to go)."""

    list_display = [
        "created_at",
        "survey",
        "customer",
        "send_status",
        "skipped_reason",
        "sent_at",
        "reminder_sent_at",
        "answered_at",
        "expires_at",
        "created_by",
    ]
    list_filter = ["send_status", "skipped_reason", "survey"]
    search_fields = ["customer__name", "customer__email", "sent_to"]
    list_select_related = ["survey", "customer", "created_by"]
    raw_id_fields = ["customer", "interaction", "created_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "survey",
        "customer",
        "interaction",
        "created_by",
        "created_at",
        "send_status",
        "send_error",
        "send_attempts",
        "sent_to",
        "sent_at",
        "reminder_sent_at",
        "skipped_reason",
        "answered_at",
    ]
    fields = [*readonly_fields[:5], "expires_at", *readonly_fields[5:]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["created_at", "survey", "customer", "rating", "short_answer", "sentiment_label"]
    list_filter = ["survey", "rating", "sentiment_label"]
    search_fields = ["answer", "customer__name", "customer__email"]
    list_select_related = ["survey", "customer"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "invitation",
        "survey",
        "customer",
        "rating",
        "answer",
        "moments",
        "created_at",
        *SENTIMENT_FIELDS,
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only customers answer

    @admin.display(description="What stood out")
    def short_answer(self, obj: Response) -> str:
        return obj.answer if len(obj.answer) <= 80 else obj.answer[:79] + "…"


@admin.register(TagWeightProposal)
class TagWeightProposalAdmin(admin.ModelAdmin):
    """Proposed vs current weights with their evidence; the "apply" action is the only way a
    proposal changes a tag's weight."""

    list_display = [
        "tag",
        "weight_now",
        "current_weight",
        "proposed_weight",
        "effect",
        "t_stat",
        "n_with",
        "n_without",
        "polarity_check",
        "status",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["tag"]
    actions = ["apply_selected"]
    readonly_fields = [f.name for f in TagWeightProposal._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by recalibrate_tags

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Weight now")
    def weight_now(self, obj: TagWeightProposal) -> float:
        return obj.tag.weight

    @admin.display(description="Effect vs polarity")
    def polarity_check(self, obj: TagWeightProposal) -> str:
        polarity = obj.tag.polarity
        if (polarity == "positive" and obj.effect < 0) or (
            polarity == "negative" and obj.effect > 0
        ):
            return f"contradicts its {polarity} polarity"
        return "consistent"

    @admin.action(description="Apply the proposed weights", permissions=["apply"])
    def apply_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        applied = services.apply_proposals(proposals=list(queryset), user=request.user)
        self.message_user(request, f"Applied {applied} proposed weight(s).", messages.SUCCESS)

    def has_apply_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("moments.change_momenttag")

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from customers import privacy, services
from customers.models import (
    SENTIMENT_FIELDS,
    Conversation,
    Customer,
    ImportJob,
    Interaction,
    JourneyStage,
    OutboundEmail,
)


@admin.register(JourneyStage)
class JourneyStageAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order", "is_critical", "weight"]
    list_editable = ["order", "is_critical", "weight"]
    list_filter = ["is_critical"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "company", "owner", "survey_opt_out", "created_at"]
    list_filter = ["survey_opt_out", "email_undeliverable_at", "owner", "created_at"]
    search_fields = ["name", "email", "company", "external_ref"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    # Set when an email to the address bounces (customers/channels), cleared when the address
    # changes: recorded, not typed.
    readonly_fields = ["created_at", "updated_at", "email_undeliverable_at"]
    show_full_result_count = False
    actions = ["export_personal_data", "erase"]

    # Django admin's own delete (the page and the bulk action) erases too, as the API does
    # (customers.services.delete_customer), each customer with its own audit entry.
    def has_delete_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        # Deleting is erasing: the same permission as the erase action and the API's /erase/.
        return self.has_erase_permission(request)

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        services.delete_customer(customer=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for customer in queryset.order_by("pk"):
            services.delete_customer(customer=customer, actor=request.user)

    @admin.action(
        description="Export everything about the selected customers as JSON (GDPR)",
        permissions=["export_personal_data"],
    )
    def export_personal_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        documents = [privacy.export_customer(customer=c) for c in queryset.order_by("pk")]
        if len(documents) == 1:
            data, filename = documents[0], f"customer-{documents[0]['customer']['id']}.json"
        else:
            data, filename = documents, "customers.json"
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def has_export_personal_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.export_customers")

    @admin.action(
        description="Erase the selected customers and all their data (GDPR)",
        permissions=["erase"],
    )
    def erase(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks first (like Django's delete action), then erases each customer in its own
        transaction with its own audit entry."""
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/customers/customer/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase customers and all their data?",
                    "opts": self.model._meta,
                    "queryset": queryset,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        erased = 0
        for customer in queryset.order_by("pk"):
            privacy.erase_customer(customer=customer, actor=request.user)
            erased += 1
        self.message_user(
            request, f"Erased {erased} customer(s) and all their data.", messages.SUCCESS
        )
        return None

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(["customers.delete_customer", "customers.delete_interaction"])


class ConversationInline(admin.StackedInline):
    """A chat or call's transcript, as received (read-only: it is what the customer said)."""

    model = Conversation
    can_delete = False
    extra = 0
    max_num = 0
    fields = ["started_at", "ended_at", "turns", "metadata", "opening_score", "ending_score"]
    readonly_fields = fields


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    inlines = [ConversationInline]
    list_display = [
        "occurred_at",
        "customer",
        "channel",
        "direction",
        "stage",
        "subject",
        "sentiment_label",
        "sentiment_score",
        "agent",
    ]
    list_filter = ["channel", "direction", "stage", "sentiment_label", "occurred_at"]
    search_fields = ["subject", "customer__name", "customer__email", "external_ref"]
    list_select_related = ["customer", "stage", "agent"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["agent"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["created_at", *SENTIMENT_FIELDS]
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "filename",
        "status",
        "processed_rows",
        "created_rows",
        "updated_rows",
        "error_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["filename"]
    # The file itself (up to IMPORT_MAX_BYTES) is neither shown nor loaded for the list.
    exclude = ["content"]
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "content"]
    list_select_related = ["created_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Emails sent to customers, by Message-ID: what a reply is linked to. Written only by
    customers.channels.threading; read-only here."""

    list_display = ["sent_at", "customer", "kind", "to", "subject", "message_id"]
    list_filter = ["kind", "sent_at"]
    search_fields = ["message_id", "to", "subject", "customer__name"]
    list_select_related = ["customer"]
    readonly_fields = [f.name for f in OutboundEmail._meta.concrete_fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# Email in: mailboxes and the emails taken from them (customers/channels/admin.py).
from customers.channels import admin as channels_admin  # noqa: E402, F401

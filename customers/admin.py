from django.contrib import admin

from customers.models import Customer, ImportJob, Interaction, JourneyStage


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
    list_filter = ["survey_opt_out", "owner", "created_at"]
    search_fields = ["name", "email", "company", "external_ref"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
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
    readonly_fields = [
        "created_at",
        "sentiment_label",
        "sentiment_score",
        "sentiment_confidence",
        "sentiment_model",
        "scored_at",
    ]
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

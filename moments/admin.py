from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from moments import enqueue
from moments.memory import parameters, rollup
from moments.models import (
    WEIGHT_MAX,
    WEIGHT_MIN,
    CustomerMemory,
    MemoryFitProposal,
    Moment,
    MomentTag,
    MomentTagging,
    SentimentCorrection,
    SentimentModel,
    TagCategory,
    TagRule,
)
from moments.sentiment import services as sentiment_services

# --- Sentiment: the trained models and agents' corrections ---------------------------------


@admin.register(SentimentModel)
class SentimentModelAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "status",
        "progress_pct",
        "version",
        "hutto_f1",
        "activated_at",
        "message",
    ]
    list_filter = ["status", "kind"]
    readonly_fields = [
        "kind",
        "status",
        "version",
        "progress",
        "message",
        "with_corrections",
        "path",
        "metadata",
        "created_at",
        "started_at",
        "finished_at",
        "activated_at",
        "updated_at",
    ]
    actions = ["activate", "train_full_with_corrections"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are created by training (command, task or the action below)

    @admin.display(description="progress")
    def progress_pct(self, obj: SentimentModel) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description="Hutto 3-class macro-F1")
    def hutto_f1(self, obj: SentimentModel) -> str:
        return f"{obj.hutto_f1:.3f}" if obj.hutto_f1 is not None else "-"

    @admin.action(description="Use this ready model for scoring (and rescore)")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        model = queryset.filter(status=SentimentModel.Status.READY).first()
        if model is None:
            self.message_user(request, "Pick a ready model.", messages.ERROR)
            return
        sentiment_services.activate_model(model=model)
        self.message_user(request, f"{model.version} is now active; rescoring is queued.")

    @admin.action(description="Train a new full model with agents' corrections")
    def train_full_with_corrections(self, request: HttpRequest, queryset: QuerySet) -> None:
        run = sentiment_services.create_training_run(
            kind=SentimentModel.Kind.FULL, with_corrections=True
        )
        enqueue.train_model(run.pk)
        self.message_user(request, f"Training run {run.pk} queued.")


@admin.register(SentimentCorrection)
class SentimentCorrectionAdmin(admin.ModelAdmin):
    list_display = ["corrected_at", "interaction", "previous_label", "label", "corrected_by"]
    list_filter = ["label"]
    search_fields = ["text"]
    raw_id_fields = ["interaction", "corrected_by"]
    readonly_fields = ["previous_label", "previous_model", "corrected_at"]


# --- Memory moments: the tag taxonomy, tag rules, moments ---------------------------------


@admin.register(TagCategory)
class TagCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}


def _set_active(queryset: QuerySet, *, active: bool) -> int:
    # One save() per tag, not queryset.update(): the audit log sees each change.
    tags = list(queryset)
    for tag in tags:
        tag.active = active
        tag.save(update_fields=["active"])
    return len(tags)


@admin.register(MomentTag)
class MomentTagAdmin(admin.ModelAdmin):
    """Add, rename, reweight and retire tags. Retire (active off) rather than delete: retired
    tags stay on old moments and in old figures, but are not offered for new tagging."""

    list_display = ["name", "category", "polarity", "weight", "colour", "active", "order"]
    list_editable = ["weight", "active"]
    list_filter = ["active", "polarity", "category"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["retire", "reactivate"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # The weight input (here and in the list) carries its range: min/max attributes.
        if db_field.name == "weight":
            kwargs.update(min_value=WEIGHT_MIN, max_value=WEIGHT_MAX)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.action(description="Retire the selected tags (they stay on old moments)")
    def retire(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = _set_active(queryset, active=False)
        self.message_user(request, f"{count} tag(s) retired.", messages.SUCCESS)

    @admin.action(description="Reactivate the selected tags")
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = _set_active(queryset, active=True)
        self.message_user(request, f"{count} tag(s) reactivated.", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A tag on moments cannot be deleted (PROTECT); retiring is the way out.
        if obj is not None and obj.taggings.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "tag", "stage", "active"]
    list_filter = ["active", "stage", "tag"]
    search_fields = ["name", "phrases"]
    list_editable = ["active"]


class MomentTaggingInline(admin.TabularInline):
    model = MomentTagging
    extra = 0
    raw_id_fields = ["added_by"]
    readonly_fields = ["added_at"]


@admin.register(Moment)
class MomentAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "customer",
        "source",
        "stage",
        "polarity",
        "impact",
        "recall_30",
        "detected_by",
        "dismissed",
    ]
    list_filter = ["source", "polarity", "dismissed", "stage", "tags"]
    search_fields = [
        "customer__name",
        "detected_by",
        "interaction__subject",
        "source_text",
        "dismissed_reason",
    ]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["customer", "interaction", "created_by", "dismissed_by"]
    list_select_related = ["customer", "stage"]
    inlines = [MomentTaggingInline]
    readonly_fields = [
        # Where it comes from: set by detection (a survey moment copies its answer).
        "source",
        "source_text",
        "source_score",
        "source_confidence",
        "intensity",
        "impact",
        *Moment.RECALL_FIELDS,
        "created_at",
    ]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """An edit here (tags, stage, date, dismissal) bypasses the services: recompute the
        journey rollup days of the moment's customer, and of where it was before."""
        super().save_related(request, form, formsets, change)
        before = form.initial if change else {}
        customers = {form.instance.customer_id, before.get("customer")} - {None}
        days = [rollup.local_day(before["occurred_at"])] if before.get("occurred_at") else []
        rollup.refresh_customers(customers, also=days)


@admin.register(CustomerMemory)
class CustomerMemoryAdmin(admin.ModelAdmin):
    list_display = ["customer", "balance", "trend", "at_risk", "moment_count", "computed_at"]
    list_filter = ["at_risk"]
    search_fields = ["customer__name"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]


@admin.register(MemoryFitProposal)
class MemoryFitProposalAdmin(admin.ModelAdmin):
    """Memory-model parameters fitted on survey answers (``fit_memory_model``): current vs
    proposed, with the evidence's verdict. "Apply" is the only way a fit reaches the recall
    forecast; "retire" goes back to the MEMORY_* settings. Both are audited."""

    list_display = [
        "created_at",
        "status",
        "n_answers",
        "n_picked",
        "auc_current",
        "auc_proposed",
        "log_likelihood_gain_display",
        "applied_at",
        "applied_by",
    ]
    list_filter = ["status"]
    actions = ["apply_selected", "retire_selected"]
    readonly_fields = ["comparison", *(f.name for f in MemoryFitProposal._meta.fields)]
    fields = [
        "status",
        "comparison",
        "n_answers",
        "n_candidates",
        "n_picked",
        "at_bound",
        "created_at",
        "applied_at",
        "applied_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by fit_memory_model

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Log-likelihood gain")
    def log_likelihood_gain_display(self, obj: MemoryFitProposal) -> str:
        return f"{obj.log_likelihood_gain:+.1f}"

    @admin.display(description="Current vs proposed")
    def comparison(self, obj: MemoryFitProposal) -> str:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (name.replace("_", " "), f"{obj.current.get(name, float('nan')):.3f}", f"{v:.3f}")
                for name, v in obj.values.items()
            ),
        )
        return format_html(
            "<table><tr><th></th><th>current</th><th>proposed</th></tr>{}"
            "<tr><th>pick rate</th><td></td><td>{}</td></tr>"
            "<tr><th>AUC</th><td>{}</td><td>{}</td></tr>"
            "<tr><th>log-likelihood</th><td>{}</td><td>{}</td></tr></table>",
            rows,
            f"{obj.pick_rate:.3f}",
            f"{obj.auc_current:.3f}",
            f"{obj.auc_proposed:.3f}",
            f"{obj.log_likelihood_current:.1f}",
            f"{obj.log_likelihood_proposed:.1f}",
        )

    @admin.action(description="Apply the proposed parameters", permissions=["apply"])
    def apply_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        chosen = list(queryset)
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one proposal to apply.", messages.ERROR)
            return
        if parameters.apply(proposal=chosen[0], user=request.user):
            self.message_user(
                request,
                "Applied: the recall forecast now uses these parameters (every customer's "
                "forecast is being recomputed).",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "Only an open proposal can be applied.", messages.ERROR)

    @admin.action(description="Retire: go back to the settings' parameters", permissions=["apply"])
    def retire_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        retired = sum(parameters.retire(proposal=p) for p in queryset)
        self.message_user(request, f"Retired {retired} applied fit(s).", messages.SUCCESS)

    def has_apply_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("moments.change_memoryfitproposal")

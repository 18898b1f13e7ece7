"""Django admin for email in: mailboxes (configured here) and the emails taken (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from customers.channels import enqueue
from customers.channels.models import InboundEmail, Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ["name", "username", "host", "folder", "enabled", "last_polled_at", "last_error"]
    list_filter = ["enabled"]
    search_fields = ["name", "host", "username"]
    readonly_fields = ["uid_validity", "last_uid", "last_polled_at", "last_error", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "enabled"]}),
        ("Server", {"fields": ["host", "port", "security", "username", "password_env"]}),
        ("Folders", {"fields": ["folder", "after_ingest", "processed_folder"]}),
        ("Progress", {"fields": readonly_fields}),
    ]
    actions = ["poll_now"]

    @admin.action(description="Poll the selected mailboxes now", permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.filter(enabled=True).values_list("pk", flat=True))
        for mailbox_id in ids:
            enqueue.poll_mailbox(mailbox_id)
        self.message_user(request, f"Queued {len(ids)} mailbox poll(s).", messages.SUCCESS)


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "kind", "from_address", "subject", "customer", "reason"]
    list_filter = ["kind", "mailbox", "received_at"]
    search_fields = ["message_key", "from_address", "subject"]
    list_select_related = ["customer"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

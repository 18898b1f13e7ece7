"""The audit log in Django admin: read-only for everyone, superusers included.

Admins and managers (the Manager role has `auditlog.view_logentry`; a manager needs staff status
to open Django admin) filter it by action, model, user and date.
"""

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.http import HttpRequest

admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogAdmin(LogEntryAdmin):
    list_display = ["created", "resource_url", "action", "msg_short", "user_url", "details"]
    list_filter = [
        "action",
        ResourceTypeFilter,
        ("actor", admin.RelatedOnlyFieldListFilter),
        ("timestamp", admin.DateFieldListFilter),
    ]
    search_fields = ["object_repr", "object_pk", "actor__username"]
    readonly_fields = ["created", "resource_url", "action", "user_url", "msg", "details"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "resource_url"]}),
        ("Changes", {"fields": ["action", "msg", "details"]}),
    ]

    @admin.display(description="Details")
    def details(self, obj: LogEntry) -> str:
        erased = (obj.additional_data or {}).get("erased")
        if not erased:
            return ""
        return "erased " + ", ".join(f"{kind}: {n}" for kind, n in erased.items())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

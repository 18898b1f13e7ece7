"""API tokens in Django admin: list, issue for a user, revoke (delete). Never a token's text.

knox's own admin lets the issuer leave the expiry empty (a token that never expires) and lists
digests; here every token expires API_TOKEN_TTL_HOURS after it is issued, like one from
POST /api/v1/auth/token/, and the list shows whose it is and until when.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

admin.site.unregister(AuthToken)


class IssueTokenForm(forms.ModelForm):
    class Meta:
        model = AuthToken
        fields = ["user"]


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expiry", "expired"]
    list_filter = [("created", admin.DateFieldListFilter), ("expiry", admin.DateFieldListFilter)]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["user", "created", "expiry"]
    ordering = ["-created"]

    @admin.display(boolean=True, description="Expired")
    def expired(self, obj: AuthToken) -> bool:
        return obj.expiry is not None and obj.expiry <= timezone.now()

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = IssueTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a token is issued or revoked, never edited

    def save_model(self, request: HttpRequest, obj: AuthToken, form, change: bool) -> None:
        instance, token = AuthToken.objects.create(
            user=form.cleaned_data["user"], expiry=knox_settings.TOKEN_TTL
        )
        # The admin's "added" message and log entry name this object.
        obj.pk, obj.digest, obj.created, obj.expiry = (
            instance.pk,
            instance.digest,
            instance.created,
            instance.expiry,
        )
        obj._state.adding = False
        self.message_user(
            request,
            f"The new token for {instance.user} (copy it now, it is not shown again; it "
            f"expires {timezone.localtime(instance.expiry):%Y-%m-%d %H:%M %Z}): {token}",
            messages.WARNING,
        )

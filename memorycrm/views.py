"""Project-level views: login with a brake on password guessing."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from memorycrm.lib import ratelimit


def _failure_keys(request: HttpRequest) -> list[str]:
    username = request.POST.get("username", "").strip().lower()
    user_hash = hashlib.sha256(username.encode()).hexdigest()[:16]
    ip = ratelimit.client_ip(request)
    # Per (IP, username) stops guessing one account; per IP alone stops spraying many accounts.
    return [f"login-fail:{ip}:{user_hash}", f"login-fail-ip:{ip}"]


class LoginView(auth_views.LoginView):
    """Django's login, refused for a while after too many failed attempts (429)."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        account_key, ip_key = _failure_keys(request)
        if (
            ratelimit.count(account_key) >= settings.LOGIN_MAX_FAILURES
            or ratelimit.count(ip_key) >= settings.LOGIN_MAX_FAILURES * 4
        ):
            form = self.get_form()
            minutes = settings.LOGIN_LOCKOUT_SECONDS // 60
            form.errors.clear()
            form.add_error(
                None,
                f"Too many failed log-in attempts. Wait {minutes} minutes and try again, "
                "or ask an admin to reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _failure_keys(self.request):
            ratelimit.hit(key, window_seconds=settings.LOGIN_LOCKOUT_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form):
        ratelimit.reset(_failure_keys(self.request)[0])
        return super().form_valid(form)

"""Project-level views: password reset by email (Django's views, our templates)."""

from __future__ import annotations

from axes.utils import reset as reset_login_failures
from django.contrib.auth import views as auth_views


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, and a new password lifts a log-in lockout: the locked page tells the user to
    reset their password, and whoever reads their email may choose a new one anyway."""

    def form_valid(self, form):
        response = super().form_valid(form)
        reset_login_failures(username=self.user.get_username())
        return response

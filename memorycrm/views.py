"""Project-level views: password reset by email (Django's views, our templates)."""

from __future__ import annotations

import hashlib
import math
import time

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect

from memorycrm.forms import QueuedPasswordResetForm
from memorycrm.lib import ratelimit

RESET_WINDOW_SECONDS = 60 * 60


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with limits so that the form floods no mailbox and probes no address list:

    - per address: at most PASSWORD_RESET_EMAILS_PER_HOUR requests for one address per hour
      send an email; past that the answer is the very same ("check your email"), whether the
      address has an account or not, and nothing is sent;
    - per client address: past PASSWORD_RESET_REQUESTS_PER_HOUR requests an hour, a 429 with
      Retry-After (it says nothing about any account).

    Counts live in the cache (CACHE_URL: Redis, shared by every web process); they count
    requests for unknown addresses too, so the limits behave alike for both. The email itself is
    sent by a worker (QueuedPasswordResetForm), so the answer takes as long for either.
    """

    form_class = QueuedPasswordResetForm

    def form_valid(self, form):
        window = int(time.time() // RESET_WINDOW_SECONDS)
        ip = ratelimit.client_ip(self.request)
        ip_key = f"ratelimit:password-reset:ip:{ip}:{window}"
        if (
            ratelimit.hit(ip_key, window_seconds=2 * RESET_WINDOW_SECONDS)
            > settings.PASSWORD_RESET_REQUESTS_PER_HOUR
        ):
            return self._too_many(form, window)
        address = form.cleaned_data["email"].strip().casefold()
        digest = hashlib.sha256(address.encode()).hexdigest()  # no address in the cache
        address_key = f"ratelimit:password-reset:address:{digest}:{window}"
        if (
            ratelimit.hit(address_key, window_seconds=2 * RESET_WINDOW_SECONDS)
            > settings.PASSWORD_RESET_EMAILS_PER_HOUR
        ):
            return HttpResponseRedirect(self.get_success_url())  # the usual answer, no email
        return super().form_valid(form)

    def _too_many(self, form, window: int) -> HttpResponse:
        wait = (window + 1) * RESET_WINDOW_SECONDS - int(time.time())
        minutes = max(1, math.ceil(wait / 60))
        form.add_error(
            None,
            "Too many password reset requests from your network. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        )
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, and a new password lifts a log-in lockout: the locked page tells the user to
    reset their password, and whoever reads their email may choose a new one anyway."""

    def form_valid(self, form):
        response = super().form_valid(form)
        reset_login_failures(username=self.user.get_username())
        return response

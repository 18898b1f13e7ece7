"""Project-level views: password reset by email (Django's views, our templates) and the user's
own time zone."""

from __future__ import annotations

import hashlib
import math
import time

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from memorycrm import services
from memorycrm.forms import QueuedPasswordResetForm, TimeZoneForm
from memorycrm.lib import ratelimit, timezones
from memorycrm.models import UserSettings

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


class AuthenticatedRequest(HttpRequest):
    """The request a @login_required view gets: its user is never anonymous."""

    user: User


@require_http_methods(["GET", "POST"])
@login_required
def time_zone(request: AuthenticatedRequest) -> HttpResponse:
    """Pick the zone pages show times in; empty follows the browser. Saved for the user (every
    device) and for this session at once."""
    browser = timezones.zone_from(request.COOKIES.get(timezones.COOKIE))
    browser_name = str(browser) if browser else "not known yet"
    saved = UserSettings.objects.filter(user=request.user).values_list("time_zone", flat=True)
    initial = {"time_zone": saved.first() or ""}
    form = TimeZoneForm(request.POST or None, initial=initial, browser_zone=browser_name)
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["time_zone"]
        try:
            services.set_time_zone(user=request.user, time_zone=name)
        except ValidationError as error:
            form.add_error("time_zone", error)
        else:
            timezones.remember(request, name)
            messages.success(request, f"Times are now shown in {name or 'your browser’s zone'}.")
            return redirect(back or "time-zone")
    return render(request, "time_zone.html", {"form": form, "next": back})

"""Each agent's own time zone. The browser names it (static/js/timezone.js writes the IANA name
into the `tz` cookie on first load); a zone the user picked on the time zone page
(memorycrm.models.UserSettings) wins over it. This middleware activates the zone for the
request, so pages show times in it, forms pre-fill and read times in it, and the layout names
it. An unknown or missing name leaves the server's TIME_ZONE.

The saved choice is copied into the session when the user signs in and when they change it
(``remember``), so the middleware reads it without a query on every request."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"
SESSION_KEY = "time_zone"  # the user's saved choice; absent or "": the browser's zone


def zone_from(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone called `name` ("Europe/Paris"), or None for anything that is not one."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class TimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        chosen = session.get(SESSION_KEY) if session is not None else None
        zone = zone_from(chosen) or zone_from(request.COOKIES.get(COOKIE))
        # Our own attribute, read by the templates (as django-htmx sets request.htmx).
        request.time_zone_source = "setting" if zone_from(chosen) else "browser"  # type: ignore[attr-defined]
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def remember(request: HttpRequest, name: str) -> None:
    """Make ``name`` (a zone, or "" for the browser's) this session's zone from the next
    request on."""
    request.session[SESSION_KEY] = name


def on_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Signed in: the user's saved zone becomes the session's (wired in MemoryCRMConfig)."""
    # Imported here: this module is loaded with the middleware, models are not needed there.
    from memorycrm.models import UserSettings

    if request is None or not hasattr(request, "session"):
        return
    name = UserSettings.objects.filter(user=user).values_list("time_zone", flat=True).first()
    remember(request, name or "")

"""Each agent's own time zone. The browser names it (static/js/timezone.js writes the IANA name
into the `tz` cookie on first load); this middleware activates it for the request, so pages
show times in it, forms pre-fill and read times in it, and the layout names it. An unknown or
missing name leaves the server's TIME_ZONE."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


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
        zone = zone_from(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

"""django-axes hooks: the per-account back-off, the username it counts, the locked answer.

Settings: AXES_FAILURE_LIMIT (env LOGIN_FAILURE_LIMIT), LOGIN_COOLOFF_MINUTES,
LOGIN_COOLOFF_MAX_MINUTES (see memorycrm/settings.py and README's security section).
"""

from __future__ import annotations

import math
import unicodedata
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone


def username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The account an attempt is for, normalised as Django's log-in form does, so " agent"
    and "agent" share one count."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    name = str(source.get("username") or "")
    return unicodedata.normalize("NFKC", name).strip()


def _failures(name: str) -> int:
    attempts = AccessAttempt.objects.filter(username=name).filter(
        expiration__expires_at__gt=timezone.now()
    )
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """How long the account of `request` stays locked: LOGIN_COOLOFF_MINUTES at the failure
    limit, doubled by each attempt past it (attempts while locked count), at most
    LOGIN_COOLOFF_MAX_MINUTES.

    Axes asks this both to decide which failures still count (those within the cool-off) and
    when each failure expires, so an account's lock lasts exactly this long after its last
    attempt.
    """
    base = settings.LOGIN_COOLOFF_MINUTES
    ceiling = max(settings.LOGIN_COOLOFF_MAX_MINUTES, base)
    failures = _failures(username(request)) if request is not None else 0
    over = min(max(failures - settings.AXES_FAILURE_LIMIT, 0), 30)
    return timedelta(minutes=min(base * 2**over, ceiling))


def _wants_json(request: HttpRequest, original_response: HttpResponse | None) -> bool:
    """JSON for a client that asks for it, and where the log-in view itself answers JSON
    (the API's token log-in)."""
    accept = request.headers.get("Accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return True
    content_type = original_response.get("Content-Type", "") if original_response else ""
    return content_type.startswith("application/json")


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """429 with Retry-After: the log-in page that was asked for, its form showing why (each
    log-in view renders its own template), or JSON for an API client."""
    wait = cool_off(request)
    minutes = math.ceil(wait.total_seconds() / 60)
    message = (
        "This account is temporarily locked after too many failed log-in attempts. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or reset your password."
    )
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    if _wants_json(request, original_response):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    elif isinstance(original_response, TemplateResponse) and form is not None:
        form.errors.clear()
        form.add_error(None, message)
        response = TemplateResponse(
            request, original_response.template_name, context, status=429
        ).render()
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(int(wait.total_seconds()))
    return response

"""HTML pages: the manager's intervention queue and rules, everyone's alerts and tasks.

Each view renders its full page, or only the named partial for HTMX; POSTs from HTMX return the
updated fragment, without HTMX they redirect back to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from interventions import selectors, services
from interventions.access import (
    get_alert_for_user,
    get_intervention_for_user,
    get_rule_for_user,
    get_task_for_user,
)
from interventions.forms import AlertFilterForm

T = TypeVar("T")


@require_GET
@login_required
@permission_required("interventions.view_intervention", raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "due")
    if tab not in selectors.QUEUE_TABS:
        tab = "due"
    context = {
        "tab": tab,
        "tabs": selectors.QUEUE_TABS,
        "counts": selectors.queue_counts(user=request.user),
        "interventions": selectors.queue(user=request.user, tab=tab),
        "limit": selectors.QUEUE_LIMIT,
    }
    template = "interventions/queue.html"
    if request.htmx and not request.htmx.boosted:
        template += "#intervention-queue"
    return render(request, template, context)


def _intervention_response(request: HttpRequest, intervention, error: str = "") -> HttpResponse:
    if request.htmx:
        context = {"intervention": intervention, "error": error}
        return render(request, "interventions/_intervention_row.html", context)
    return redirect("intervention-queue")


def _inbox_context(request: HttpRequest) -> dict:
    form = AlertFilterForm(request.GET)  # all optional: no filter is the default view
    filters = form.filters()
    return {
        "form": form,
        "filters": filters,
        "alerts": selectors.inbox(user=request.user, **filters),
        "unread": selectors.header_alert_count(request),
    }


@require_GET
@login_required
@permission_required("interventions.view_alert", raise_exception=True)
def alert_inbox(request: HttpRequest) -> HttpResponse:
    template = "interventions/alert_inbox.html"
    if request.htmx and not request.htmx.boosted:
        template += "#alert-list"
    return render(request, template, _inbox_context(request))


@require_GET
@login_required
def alert_badge(request: HttpRequest) -> HttpResponse:
    """The header's unread count, polled by HTMX (see the `alerts_link` template tag)."""
    return render(
        request,
        "interventions/_alert_badge.html",
        {
            "unread": selectors.header_alert_count(request),
            "poll_seconds": settings.INTERVENTIONS_ALERT_POLL_SECONDS,
        },
    )


def _alert_response(request: HttpRequest, alert, error: str = "") -> HttpResponse:
    if request.htmx:
        response = render(request, "interventions/_alert.html", {"alert": alert, "error": error})
        response["HX-Trigger"] = "alerts-changed"
        return response
    return redirect("alert-inbox")


def _change_view(
    perm: str,
    load: Callable[[AbstractBaseUser, int], T],
    respond: Callable[[HttpRequest, T, str], HttpResponse],
) -> Callable[[Callable[[T, AbstractBaseUser], T]], Callable[[HttpRequest, int], HttpResponse]]:
    """Views that POST one change to one object the user may see: `load` it (a 404 otherwise),
    apply the service, `respond` with it (the fragment for HTMX, else a redirect); a refusal
    (ValidationError) is shown in the fragment."""

    def build(
        change: Callable[[T, AbstractBaseUser], T],
    ) -> Callable[[HttpRequest, int], HttpResponse]:
        @require_POST
        @login_required
        @permission_required(perm, raise_exception=True)
        def view(request: HttpRequest, pk: int) -> HttpResponse:
            obj = load(request.user, pk)
            error = ""
            try:
                obj = change(obj, request.user)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            return respond(request, obj, error)

        return view

    return build


_intervention_change = _change_view(
    "interventions.change_intervention", get_intervention_for_user, _intervention_response
)
intervention_cancel = _intervention_change(
    lambda intervention, user: services.cancel_intervention(intervention=intervention, by=user)
)
intervention_retry = _intervention_change(
    lambda intervention, user: services.retry_intervention(intervention=intervention, by=user)
)

_alert_change = _change_view("interventions.change_alert", get_alert_for_user, _alert_response)
alert_read = _alert_change(lambda alert, user: services.mark_alert_read(alert=alert))
alert_acknowledge = _alert_change(
    lambda alert, user: services.acknowledge_alert(alert=alert, by=user)
)
alert_resolve = _alert_change(lambda alert, user: services.resolve_alert(alert=alert, by=user))


@require_POST
@login_required
@permission_required("interventions.change_alert", raise_exception=True)
def alert_read_all(request: HttpRequest) -> HttpResponse:
    services.mark_all_alerts_read(user=request.user)
    if request.htmx:
        response = render(
            request, "interventions/alert_inbox.html#alert-list", _inbox_context(request)
        )
        response["HX-Trigger"] = "alerts-changed"
        return response
    return redirect("alert-inbox")


@require_GET
@login_required
@permission_required("interventions.view_followuptask", raise_exception=True)
def task_list(request: HttpRequest) -> HttpResponse:
    context = {
        "tasks": selectors.open_tasks(user=request.user),
        "done": selectors.recent_done_tasks(user=request.user),
    }
    return render(request, "interventions/task_list.html", context)


@require_POST
@login_required
@permission_required("interventions.change_followuptask", raise_exception=True)
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = services.complete_task(task=get_task_for_user(request.user, pk), by=request.user)
    if request.htmx:
        return render(request, "interventions/_task.html", {"task": task})
    return redirect("task-list")


@require_GET
@login_required
@permission_required("interventions.view_rule", raise_exception=True)
def rule_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "interventions/rule_list.html",
        {"rules": selectors.rules_with_activity(user=request.user)},
    )


@require_POST
@login_required
@permission_required("interventions.toggle_rule", raise_exception=True)
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_rule_for_user(request.user, pk)
    error = ""
    try:
        rule = services.set_rule_active(rule=rule, active=not rule.active)
    except ValidationError as exc:
        rule.refresh_from_db()
        error = "Cannot enable: " + " ".join(exc.messages)
    if request.htmx:
        rule = selectors.rules_with_activity(user=request.user).get(pk=rule.pk)
        return render(request, "interventions/_rule_row.html", {"rule": rule, "error": error})
    return redirect("rule-list")

"""Memory moment pages: one-click agent actions on the timeline (HTMX fragments), a customer's
"what they will remember" panel, and the managers' journey map dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from customers.access import get_customer_for_user, interactions_visible_to
from customers.models import Customer, Interaction, JourneyStage
from memorycrm.lib import charts
from moments.access import get_moment_for_user
from moments.memory import selectors, selectors_journey, services
from moments.memory.forms import DismissForm, HeatmapFilterForm, PromoteForm, TagForm
from moments.models import Moment, MomentTag

MARKER = "moments/_moment_marker.html"
CHANGES = "moments/_memory_changes.html"
# At most this many timeline items refreshed by one sync (a page shows a few dozen).
SHOWN_LIMIT = 200


def render_memory_changes(
    request: HttpRequest,
    customer: Customer,
    *,
    markers: Sequence[Interaction] = (),
    badges: Sequence[Interaction] = (),
    version: str = "",
) -> str:
    """What an agent's action or a background change altered on the customer's page, as HTMX
    out-of-band swaps: the memory panel's body, the sentiment chart, and the markers and
    badges of the given timeline items; with ``version``, the memory sync element first (the
    main swap of its own request). Nothing for a user who does not see moments (the page has
    no panel or markers to swap)."""
    if not request.user.has_perm("moments.view_moment"):
        return ""
    context = {
        "customer": customer,
        "summary": selectors.memory_summary(customer),
        "markers": list(markers),
        "badges": list(badges),
        "sync": bool(version),
        "version": version,
        "live_seconds": settings.MEMORY_LIVE_SECONDS,
        # The marker tag loads the moments of the whole "page" at once: these markers.
        "page": SimpleNamespace(items=list(markers)),
    }
    return render_to_string(CHANGES, context, request=request)


def _interaction_for_user(request: HttpRequest, pk: int) -> Interaction:
    return get_object_or_404(interactions_visible_to(request.user), pk=pk)


def _marker(
    request: HttpRequest, interaction: Interaction, *, errors=None, dismissing=None
) -> HttpResponse:
    """The interaction's moment marker, fresh from the database; after a successful write with
    the memory panel and chart out-of-band, and it tells the page's memory sync that the
    customer's memory changed (``memory-changed``)."""
    moment = selectors.moments_by_interaction([interaction.pk]).get(interaction.pk)
    context = {
        "interaction": interaction,
        "moment": moment,
        "version": selectors.item_version(interaction, moment),
        "tags": list(selectors.tags_for_tagging()),
        "errors": errors or [],
        "dismiss_form": dismissing,
    }
    response = render(request, MARKER, context)
    if request.method == "POST" and not errors and dismissing is None:
        # The panel and the chart follow in the same answer; the sync then refreshes the
        # other markers (a tag refreshes the recall of earlier moments sharing it). After the
        # swap: the sync must read this marker's new state, or it would replace it under an
        # action the agent has already started on it.
        response.write(render_memory_changes(request, interaction.customer))
        response["HX-Trigger-After-Settle"] = "memory-changed"
    return response


def _done(request: HttpRequest, interaction: Interaction, **kwargs) -> HttpResponse:
    """From HTMX the fresh marker; without JavaScript back to the timeline (with any error as
    a message)."""
    if request.htmx:
        return _marker(request, interaction, **kwargs)
    for error in kwargs.get("errors") or []:
        messages.error(request, error)
    return redirect(f"{interaction.customer.get_absolute_url()}#interaction-{interaction.pk}")


def _done_for_moment(request: HttpRequest, moment: Moment, **kwargs) -> HttpResponse:
    """``_done`` after an action on a moment. A survey answer's moment has no interaction, so
    no marker on the timeline: back to the customer's page (its memory panel)."""
    if moment.interaction_id is not None:
        return _done(request, moment.interaction, **kwargs)
    for error in kwargs.get("errors") or []:
        messages.error(request, error)
    url = f"{moment.customer.get_absolute_url()}#memory-panel"
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _messages(error: ValidationError) -> list[str]:
    return list(error.messages)


@require_POST
@login_required
@permission_required("moments.add_moment", raise_exception=True)
def promote(request: HttpRequest, pk: int) -> HttpResponse:
    """Make an interaction a moment (optionally with a tag and a note): one click."""
    interaction = _interaction_for_user(request, pk)
    form = PromoteForm(request.POST)
    if not form.is_valid():
        return _done(request, interaction, errors=[e for es in form.errors.values() for e in es])
    tags = [form.cleaned_data["tag"]] if form.cleaned_data["tag"] else []
    try:
        services.promote_interaction(
            interaction=interaction, user=request.user, tags=tags, note=form.cleaned_data["note"]
        )
    except ValidationError as error:
        return _done(request, interaction, errors=_messages(error))
    return _done(request, interaction)


def _moment_for_user(request: HttpRequest, pk: int) -> Moment:
    return get_moment_for_user(request.user, pk)


@require_POST
@login_required
@permission_required("moments.change_moment", raise_exception=True)
def add_tag(request: HttpRequest, pk: int) -> HttpResponse:
    moment = _moment_for_user(request, pk)
    form = TagForm(request.POST)
    if not form.is_valid():
        errors = [e for es in form.errors.values() for e in es]
        return _done_for_moment(request, moment, errors=errors)
    services.add_tag(moment=moment, tag=form.cleaned_data["tag"], user=request.user)
    return _done_for_moment(request, moment)


@require_POST
@login_required
@permission_required("moments.change_moment", raise_exception=True)
def remove_tag(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    moment = _moment_for_user(request, pk)
    tag = get_object_or_404(MomentTag, pk=tag_pk, taggings__moment=moment)
    services.remove_tag(moment=moment, tag=tag, user=request.user)
    return _done_for_moment(request, moment)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("moments.change_moment", raise_exception=True)
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the reason form (in the marker, or as a page without JavaScript). POST: dismiss."""
    moment = _moment_for_user(request, pk)
    form = DismissForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.dismiss_moment(
            moment=moment, user=request.user, reason=form.cleaned_data["reason"]
        )
        return _done_for_moment(request, moment)
    if request.htmx and moment.interaction_id is not None:
        return _marker(request, moment.interaction, dismissing=form)
    return render(request, "moments/moment_dismiss.html", {"moment": moment, "form": form})


@require_GET
@login_required
@permission_required("moments.view_moment", raise_exception=True)
def customer_memory(request: HttpRequest, pk: int) -> HttpResponse:
    """The "what they will remember" panel. From the page's memory sync (HTMX, ``since``: the
    version the page shows, ``shown``: its timeline items and their state): 204 when nothing
    changed, else the fresh sync element with the panel and chart out-of-band, and the
    markers and badges of the items that changed."""
    customer = get_customer_for_user(request.user, pk)
    since = request.GET.get("since")
    if request.htmx and since is not None:
        version = selectors.memory_version(customer)
        if since == version:
            return HttpResponse(status=204)
        changed = _changed_items(request, customer)
        html = render_memory_changes(
            request, customer, markers=changed, badges=changed, version=version
        )
        return HttpResponse(html)
    context = {
        "summary": selectors.memory_summary(customer),
        "customer": customer,
        "version": selectors.memory_version(customer),
        "live_seconds": settings.MEMORY_LIVE_SECONDS,
    }
    template = "moments/_memory_panel.html"
    if request.htmx:
        template += "#memory-panel-body"
    return render(request, template, context)


def _changed_items(request: HttpRequest, customer: Customer) -> list[Interaction]:
    """The customer's timeline items the page shows (``shown``: "id:version") whose badge or
    marker no longer shows what it should; ids the user may not see are ignored."""
    shown: dict[int, str] = {}
    for value in request.GET.getlist("shown")[:SHOWN_LIMIT]:
        pk, _, version = value.partition(":")
        if pk.isdigit():
            shown[int(pk)] = version
    interactions = list(
        interactions_visible_to(request.user)
        .filter(customer=customer, pk__in=list(shown))
        .order_by("pk")
    )
    moments = selectors.moments_by_interaction([i.pk for i in interactions])
    return [i for i in interactions if selectors.item_version(i, moments.get(i.pk)) != shown[i.pk]]


def _filter(request: HttpRequest) -> tuple[HeatmapFilterForm, selectors_journey.HeatmapFilter]:
    form = HeatmapFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        flt = selectors_journey.HeatmapFilter(
            date_from=data["date_from"], date_to=data["date_to"], polarity=data["polarity"]
        )
    else:
        flt = selectors_journey.HeatmapFilter()
    return form, flt


@require_GET
@login_required
@permission_required("moments.view_dashboard", raise_exception=True)
def journey_map(request: HttpRequest) -> HttpResponse:
    """Stage x tag heatmap, moments per week by polarity and the memory-at-risk list. From
    HTMX (filter change), all three (the filter's dates move the trend's weeks too)."""
    form, flt = _filter(request)
    trend = selectors_journey.moments_per_week(flt, user=request.user)
    context = {
        "form": form,
        "heatmap": selectors_journey.journey_heatmap(flt, user=request.user),
        "trend": trend,
        "trend_chart": charts.stacked_columns(
            [(week.strftime("%d %b"), counts) for week, counts in trend.weeks],
            ["negative", "neutral", "positive"],
        ),
        "query": request.GET.urlencode(),
        "at_risk": selectors.memory_at_risk(request.user),
    }
    if request.htmx:
        return render(request, "moments/journey_map.html#journey-map", context)
    return render(request, "moments/journey_map.html", context)


@require_GET
@login_required
@permission_required("moments.view_dashboard", raise_exception=True)
def journey_cell(request: HttpRequest, stage_pk: int, tag_pk: int = 0) -> HttpResponse:
    """The moments behind one cell (tag 0: the untagged ones)."""
    stage = get_object_or_404(JourneyStage, pk=stage_pk)
    tag = get_object_or_404(MomentTag, pk=tag_pk) if tag_pk else None
    form, flt = _filter(request)
    context = {
        "stage": stage,
        "tag": tag,
        "moments": selectors_journey.cell_moments(request.user, stage=stage, tag=tag, flt=flt),
        "form": form,
    }
    template = "moments/journey_cell.html"
    if request.htmx:
        template += "#cell-moments"
    return render(request, template, context)

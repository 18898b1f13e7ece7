"""The bridge from customer pages to memory moments (the customers app never imports moments):

{% memory_panel customer %}    the "what they will remember" panel
{% moment_marker interaction %} the moment marker and agent actions on a timeline item
                                (``oob=True``: as an HTMX out-of-band swap)
{% heat_style cell max %}       a heatmap cell's background (red = damages, green = builds)
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils.html import format_html

from customers.models import Customer, Interaction
from moments.memory import selectors

register = template.Library()


@register.inclusion_tag("moments/_memory_panel.html", takes_context=True)
def memory_panel(context: template.Context, customer: Customer) -> dict:
    user = context.get("user")
    if user is None or not user.has_perm("moments.view_moment"):
        return {"hidden": True}
    return {
        "summary": selectors.memory_summary(customer),
        "customer": customer,
        "version": selectors.memory_version(customer),
        "live_seconds": settings.MEMORY_LIVE_SECONDS,
    }


def _page_cache(context: template.Context, interaction: Interaction) -> tuple[dict, list]:
    """Moments and tags for every item of the timeline page at once, cached on the template
    context: a constant number of queries per page however many items it has."""
    cache = getattr(context, "_memory_cache", None)
    if cache is None:
        cache = context._memory_cache = {"moments": {}, "tags": None}
    if interaction.pk not in cache["moments"]:
        page = context.get("page")
        items = list(getattr(page, "items", None) or [])
        ids = [i.pk for i in items if getattr(i, "pk", None)]
        if interaction.pk not in ids:
            ids = [interaction.pk]
        found = selectors.moments_by_interaction(ids)
        for pk in ids:
            cache["moments"][pk] = found.get(pk)
    if cache["tags"] is None:
        cache["tags"] = list(selectors.tags_for_tagging())
    return cache["moments"], cache["tags"]


@register.inclusion_tag("moments/_moment_marker.html", takes_context=True)
def moment_marker(context: template.Context, interaction: Interaction, oob: bool = False) -> dict:
    perms = context.get("perms")
    base = {
        "interaction": interaction,
        "perms": perms,
        "csrf_token": context.get("csrf_token"),
        "oob": oob,
    }
    user = context.get("user")
    if user is None or not user.has_perm("moments.view_moment"):
        return {**base, "moment": None, "tags": [], "hidden": True}
    moments, tags = _page_cache(context, interaction)
    moment = moments.get(interaction.pk)
    version = selectors.item_version(interaction, moment)
    return {**base, "moment": moment, "tags": tags, "version": version}


@register.simple_tag
def heat_style(cell, max_abs: float) -> str:
    if not cell.count:
        return ""
    strength = min(1.0, abs(cell.mean_impact) / (max_abs or 1.0))
    alpha = round(0.12 + 0.6 * strength, 2)
    rgb = "180, 35, 24" if cell.mean_impact < 0 else "31, 122, 77"
    return format_html("background: rgba({}, {});", rgb, alpha)

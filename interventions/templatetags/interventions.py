"""{% load interventions %}: the header links (alerts with the unread count, polled by HTMX)
and a customer's interventions on the customer page."""

from __future__ import annotations

from django import template
from django.conf import settings

from interventions import selectors
from interventions.explain import describe_result as _describe_result
from interventions.explain import describe_why as _describe_why
from memorycrm.lib.pagecache import for_page_item

register = template.Library()


@register.inclusion_tag("interventions/_nav.html", takes_context=True)
def interventions_nav(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    perms = context.get("perms")
    may_read = user is not None and bool(perms) and perms["interventions"]["view_alert"]
    unread = selectors.header_alert_count(request) if may_read else 0
    return {
        "perms": perms,
        "unread": unread,
        "poll_seconds": settings.INTERVENTIONS_ALERT_POLL_SECONDS,
    }


@register.inclusion_tag("interventions/_customer_interventions.html", takes_context=True)
def customer_interventions(context, customer) -> dict:
    """Shown only to people who may see interventions (managers)."""
    perms = context.get("perms")
    visible = bool(perms) and perms["interventions"]["view_intervention"]
    rows = selectors.customer_interventions(customer=customer) if visible else []
    return {"interventions": rows, "perms": perms}


@register.filter
def describe_why(why: dict) -> str:
    return _describe_why(why or {})


def _may_see_interventions(context) -> bool:
    perms = context.get("perms")
    return bool(perms) and perms["interventions"]["view_intervention"]


@register.inclusion_tag("interventions/_interaction_interventions.html", takes_context=True)
def interaction_interventions(context, interaction) -> dict:
    """The interventions an interaction set off, in line on the timeline. The first call on a
    timeline page loads them for every interaction of the page in one query (cached on the
    request), so the page's query count does not grow with its rows."""
    if not _may_see_interventions(context):
        return {"interventions": []}
    interventions = for_page_item(
        context,
        interaction.pk,
        lambda ids: selectors.interventions_by_interaction(ids=ids),
        holder=context.get("request"),
        key="_interventions_by_interaction",
    )
    return {"interventions": interventions or []}


@register.filter
def describe_result(result: dict) -> str:
    return _describe_result(result or {})

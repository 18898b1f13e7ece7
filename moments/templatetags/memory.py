"""The bridge from customer pages to memory moments (the customers app never imports moments):

{% memory_panel customer %}    the "what they will remember" panel
{% moment_marker interaction %} the moment marker and agent actions on a timeline item
                                (``oob=True``: as an HTMX out-of-band swap)
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import mark_safe

from customers.models import Customer, Interaction
from memorycrm.lib.pagecache import for_page_item
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
    # The page's moments and the tag list, each loaded once per page (a constant number of
    # queries however many items it has), kept on the template context.
    moment = for_page_item(
        context,
        interaction.pk,
        selectors.moments_by_interaction,
        holder=context,
        key="_memory_moments",
    )
    tags = getattr(context, "_memory_tags", None)
    if tags is None:
        tags = context._memory_tags = list(selectors.tags_for_tagging())
    version = selectors.item_version(interaction, moment)
    return {**base, "moment": moment, "tags": tags, "version": version}


CHART_W, CHART_H, CHART_PAD = 320, 120, 10


@register.inclusion_tag("moments/_memory_balance_chart.html")
def memory_balance_chart(summary: selectors.MemorySummary) -> dict:
    """The memory balance over time (``summary.history``) as a small inline SVG drawn here:
    no chart library, no script, readable on a phone (it scales to its box). Above the zero
    line it is green (they remember it well), below red. Nothing without a history."""
    history = summary.history
    if not history:
        return {"history": []}
    first, last = history[0].at, history[-1].at
    span = (last - first).total_seconds() or 1.0
    top = max(0.5, max(abs(p.balance) for p in history))  # a symmetric scale around 0
    inner_w, inner_h = CHART_W - 2 * CHART_PAD, CHART_H - 2 * CHART_PAD

    def x(at) -> float:
        return round(CHART_PAD + inner_w * (at - first).total_seconds() / span, 1)

    def y(balance: float) -> float:
        return round(CHART_PAD + inner_h * (1 - (balance + top) / (2 * top)), 1)

    line = " ".join(f"{x(p.at)},{y(p.balance)}" for p in history)
    zero = y(0.0)
    area = f"{x(first)},{zero} {line} {x(last)},{zero}"
    low = min(history, key=lambda p: p.balance)
    high = max(history, key=lambda p: p.balance)
    return {
        "history": history,
        "line": line,
        "area": area,
        "width": CHART_W,
        "height": CHART_H,
        "zero": zero,
        "pad": CHART_PAD,
        "right": CHART_W - CHART_PAD,
        "top": top,
        "first": history[0],
        "last": history[-1],
        "low": low,
        "high": high,
        "end_x": x(last),
        "end_y": y(history[-1].balance),
    }


@register.filter
def unbroken_hyphens(text: str) -> str:
    """The text, escaped, with its hyphens non-breaking: a narrow heatmap column breaks
    "Personal thank-you" between the words, never as "thank-" / "you"."""
    return mark_safe(escape(text).replace("-", "\u2011"))  # noqa: S308 (escaped just before)

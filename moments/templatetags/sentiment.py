"""{% sentiment_chart customer %}: the customer's sentiment over time as a server-side SVG
(no chart library, no JavaScript: works offline and without scripts).
{% sentiment_model_status %}: a one-word model status for navigation bars."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from customers.models import Customer
from moments.models import Moment
from moments.sentiment import eta, selectors

register = template.Library()

WIDTH, HEIGHT, PAD = 640, 180, 24
WINDOW_YEARS = 10  # points dated earlier than this, or in the future, are left off the chart


@register.inclusion_tag("moments/_sentiment_chart.html")
def sentiment_chart(customer: Customer, oob: bool = False) -> dict:
    """``oob=True``: as an HTMX out-of-band swap (the customer page's live refresh)."""
    series = selectors.sentiment_series(customer)
    # One absurd date (year 1 from a bad import, 9999 from a typo) would squash every other
    # point onto one pixel column: the x-axis covers a sane window and the rest is counted.
    now = timezone.now()
    earliest, latest = now - timedelta(days=365 * WINDOW_YEARS), now + timedelta(days=1)
    points = [p for p in series if earliest <= p.occurred_at <= latest]
    left_out = len(series) - len(points)
    if not points:
        return {
            "customer": customer,
            "points": [],
            "oob": oob,
            "left_out": left_out,
            "window_from": earliest,
            "window_to": latest,
        }
    first, last = points[0].occurred_at, points[-1].occurred_at
    span = (last - first).total_seconds() or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(point) -> float:
        # One point alone sits in the middle; otherwise by time.
        if len(points) == 1:
            return WIDTH / 2
        return round(PAD + inner_w * (point.occurred_at - first).total_seconds() / span, 1)

    def y(score: float) -> float:
        return round(PAD + inner_h * (1 - (score + 1) / 2), 1)

    # Memory moments among the plotted interactions get a ring (one query for the chart).
    moment_ids = set(
        Moment.objects.live()
        .filter(customer=customer, interaction_id__in=[p.interaction_id for p in points])
        .values_list("interaction_id", flat=True)
    )
    plotted = [
        {
            "x": x(p),
            "y": y(p.score),
            "point": p,
            "kind": "spike" if p.is_spike else "point",
            "moment": p.interaction_id in moment_ids,
        }
        for p in points
    ]
    return {
        "customer": customer,
        "oob": oob,
        "points": plotted,
        # Up to 200 points: formatted here, not by a {% for %} in the template, where they
        # cost ~0.2 ms each and made a long history's page slower (bench/timeline.py).
        "circles": mark_safe("\n".join(_circle(p) for p in plotted)),  # _circle escapes
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in plotted),
        "width": WIDTH,
        "height": HEIGHT,
        "y_zero": y(0.0),
        "y_top": y(1.0),
        "y_bottom": y(-1.0),
        "x_left": PAD,
        "x_right": WIDTH - PAD,
        "first": first,
        "last": last,
        "spikes": sum(p.is_spike for p in points),
        "moments": len(moment_ids),
        "left_out": left_out,
        "window_from": earliest,
        "window_to": latest,
    }


_POINT = (
    '<a href="#interaction-{id}">{ring}<circle cx="{x}" cy="{y}" r="{r}" fill="{fill}"{extra}>'
    "<title>{spike}{moment}{label} ({score:.2f}) on {when}</title></circle></a>"
)
_RING = (
    '<circle cx="{x}" cy="{y}" r="10" fill="none" stroke="#a86200" stroke-width="2" '
    'class="moment-mark"/>'
)


def _circle(p: dict) -> str:
    """One point of the chart as SVG: a dot, a link to its interaction, a tooltip."""
    point, spike = p["point"], p["kind"] == "spike"
    return _POINT.format(
        id=int(point.interaction_id),
        x=p["x"],
        y=p["y"],
        r=6 if spike else 3,
        fill=("#b3261e" if point.score < 0 else "#1b7f3b") if spike else "#3346d3",
        extra=' stroke="#fff" stroke-width="1.5" class="sentiment-spike"' if spike else "",
        spike="Spike: " if spike else "",
        moment="Memory moment: " if p["moment"] else "",
        ring=_RING.format(x=p["x"], y=p["y"]) if p["moment"] else "",
        label=escape(point.label),
        score=point.score,
        when=timezone.localtime(point.occurred_at).strftime("%Y-%m-%d %H:%M"),
    )


@register.inclusion_tag("moments/_sentiment_model_status.html", takes_context=True)
def sentiment_model_status(context) -> dict:
    status = selectors.sentiment_status(history=0)
    label, title = _status_in_words(status)
    return {"status": status, "label": label, "title": title, "perms": context.get("perms")}


def _status_in_words(status: selectors.SentimentStatus) -> tuple[str, str]:
    """The nav label and its tooltip: what an agent can expect, not the training's internals.
    While a better model trains the one in use still scores, so the label stays "ready"."""
    if status.state == "ready":
        if status.training is not None:
            return "ready", "Scoring with the current model; a better one is training."
        return "ready", "Every new interaction is scored."
    if status.state == "training":
        lines = eta.forecast(
            active=None, runs=list(selectors.training_in_progress()), now=timezone.now()
        )
        wait = lines[0]["words"] if lines else "a few minutes"
        return f"first model in {wait}", "Interactions are scored once the first model is ready."
    if status.state == "failed":
        return "training failed", status.last_failure.message if status.last_failure else ""
    return "not set up", "No sentiment model yet: an admin starts the training."

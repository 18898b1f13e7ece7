"""An alert's "why", in words an agent reads at a glance:

    Customer wrote "I am furious and want a refund now" — negative 94 %, Complaint stage,
    3rd complaint in 10 days.

instead of the conditions that matched (those stay in the intervention's why_fired, for admins);
and the one-line summaries of what a rule matched (describe_why) and did (describe_result).
"""

from __future__ import annotations

from datetime import timedelta

from customers.models import Interaction
from interventions.models import Intervention

EXCERPT_CHARS = 80
COMPLAINT_DAYS = 10


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a text on one line, cut at a word with "…" when longer than `limit`."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut.rstrip(" ,;:.") + "…"


def what_was_said(interaction: Interaction) -> str:
    """The excerpt's source: the body (what the customer wrote), else the subject."""
    return interaction.body.strip() or interaction.subject.strip()


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def complaints_before(interaction: Interaction, *, days: int = COMPLAINT_DAYS) -> int:
    """Negative inbound interactions of the customer within `days` up to this one, itself
    included."""
    since = interaction.occurred_at - timedelta(days=days)
    return Interaction.objects.filter(
        customer_id=interaction.customer_id,
        direction=Interaction.Direction.INBOUND,
        sentiment_label=Interaction.Sentiment.NEGATIVE,
        occurred_at__gte=since,
        occurred_at__lte=interaction.occurred_at,
    ).count()


def interaction_reason(interaction: Interaction, *, escalation: dict | None = None) -> str:
    """What happened and why it matters, in one sentence."""
    who = {
        Interaction.Direction.INBOUND: "Customer wrote",
        Interaction.Direction.OUTBOUND: "We wrote",
        Interaction.Direction.INTERNAL: "Note",
    }.get(interaction.direction, "Customer wrote")
    parts = []
    # An agent's reply or note carries no customer sentiment (customer words only).
    label = interaction.sentiment_label if interaction.is_customer_words else ""
    if label and interaction.sentiment_confidence is not None:
        parts.append(f"{label} {round(interaction.sentiment_confidence * 100)} %")
    if interaction.stage_id:
        parts.append(f"{interaction.stage.name} stage")
    if label == Interaction.Sentiment.NEGATIVE and interaction.direction == "inbound":
        count = complaints_before(interaction)
        if count > 1:
            parts.append(f"{ordinal(count)} complaint in {COMPLAINT_DAYS} days")
    if escalation and escalation.get("previous") is not None:
        parts.append(
            f"worse than the last alert ({round(escalation['previous'] * 100)} % → "
            f"{round((escalation.get('severity') or 0) * 100)} % negative)"
        )
    said = f'{who} "{excerpt(what_was_said(interaction))}"'
    return f"{said} — {', '.join(parts)}." if parts else f"{said}."


def reason_for(intervention: Intervention) -> str:
    """The alert's reason: the interaction in words, or the rule and event when there is none
    (a daily check, a customer-level event)."""
    interaction = intervention.interaction
    if interaction is not None:
        return interaction_reason(interaction, escalation=intervention.why_fired.get("escalation"))
    return f"{intervention.rule.name}: {intervention.rule.get_event_display().lower()}."


def describe_why(why: dict) -> str:
    """One line: 'interaction.scored: sentiment_label eq negative (was negative), …'."""
    parts = [
        f"{c.get('field')} {c.get('op')} {c.get('value')!r} (was {c.get('actual')!r})"
        for c in why.get("conditions", [])
    ]
    return f"{why.get('event', '?')}: " + (", ".join(parts) if parts else "no conditions")


def describe_result(result: dict) -> str:
    """What an intervention did, in one line for people (the JSON is in the admin and API)."""
    parts = []
    if result.get("skipped"):
        parts.append(f"skipped: {result['skipped']}")
    if result.get("alerts"):
        parts.append("alerted " + ", ".join(result["alerts"]))
    emails = result.get("emails") or []
    if emails:
        parts.append("emailed " + ", ".join(f"{e.get('to')} ({e.get('status')})" for e in emails))
    if result.get("task"):
        parts.append(f"task “{result.get('title', '')}” for {result.get('assignee', '?')}")
    webhook = result.get("webhook")
    if webhook:
        parts.append(f"called {webhook.get('url')} → HTTP {webhook.get('status')}")
    survey = result.get("survey")
    if survey and not survey.get("skipped_reason"):
        parts.append(f"invited to “{survey.get('survey')}”")
    return "; ".join(parts)

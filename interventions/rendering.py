"""Rendering rule and email templates (alert text, task title, email subject and body).

Templates are written by admins but run with whatever they can reach: given model instances,
`{{ customer.owner.password }}` or `{{ customer.owner.auth_token.key }}` rendered a password hash
and an API token into an alert. So templates see plain dicts of the fields listed here and
nothing else (a dict lookup cannot reach a related object or a method), on an engine of their
own without template loaders or extra tag libraries (no `{% include %}`, no `{% load %}`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.template import Context, Engine
from django.template.base import Template

from moments.models import Moment
from surveys.models import Response

if TYPE_CHECKING:  # interventions.models renders email templates with this module
    from interventions.models import Intervention

ENGINE = Engine(loaders=[], libraries={}, autoescape=False)


def compile_template(text: str) -> Template:
    """Raises django.template.TemplateSyntaxError (also for tags this engine does not have)."""
    return ENGINE.from_string(text)


def render(text: str, context: dict[str, Any]) -> str:
    return compile_template(text).render(Context(context, autoescape=False))


def _user(user) -> dict[str, Any] | None:
    if user is None:
        return None
    full_name = user.get_full_name()
    username = user.get_username()
    # get_full_name / get_username keep templates written against the User model working.
    return {
        "username": username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": full_name,
        "email": user.email,
        "get_full_name": full_name,
        "get_username": username,
    }


def _stage(stage) -> dict[str, Any] | None:
    return None if stage is None else {"name": stage.name, "slug": stage.slug}


def _customer(customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "name": customer.name,
        "email": customer.email,
        "company": customer.company,
        "phone": customer.phone,
        "external_ref": customer.external_ref,
        "timezone": customer.timezone,
        "owner": _user(customer.owner),
    }


def _interaction(interaction) -> dict[str, Any] | None:
    if interaction is None:
        return None
    return {
        "id": interaction.pk,
        "channel": interaction.channel,
        "direction": interaction.direction,
        "occurred_at": interaction.occurred_at,
        "stage": _stage(interaction.stage),
        "subject": interaction.subject,
        "body": interaction.body,
        # The customer's sentiment: none for an agent's reply or note (customer words only).
        "sentiment_label": interaction.sentiment_label if interaction.is_customer_words else "",
        "sentiment_score": interaction.sentiment_score if interaction.is_customer_words else None,
    }


def _moment(moment: Moment) -> dict[str, Any]:
    return {
        "id": moment.pk,
        "source": moment.source,
        "occurred_at": moment.occurred_at,
        "stage": _stage(moment.stage),
        "polarity": moment.polarity,
        "intensity": moment.intensity,
        "impact": moment.impact,
        "reasons": moment.reasons,
    }


def _response(response: Response) -> dict[str, Any]:
    return {
        "id": response.pk,
        "survey": response.survey.name,
        "rating": response.rating,
        "answer": response.answer,
        "created_at": response.created_at,
    }


def context_for(intervention: Intervention) -> dict[str, Any]:
    """What templates see: customer, interaction, moment, response, rule, intervention, why
    (the fields are listed in docs/interventions.md)."""
    subject = intervention.subject
    rule = intervention.rule
    return {
        "customer": _customer(intervention.customer),
        "interaction": _interaction(intervention.interaction),
        "moment": _moment(subject) if isinstance(subject, Moment) else None,
        "response": _response(subject) if isinstance(subject, Response) else None,
        "rule": {"name": rule.name, "slug": rule.slug, "description": rule.description},
        "intervention": {
            "id": intervention.pk,
            "event": intervention.event,
            "scheduled_for": intervention.scheduled_for,
        },
        "why": intervention.why_fired,
    }

"""Every write to customers and interactions goes through here (views, API, CSV import)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from customers import privacy
from customers.models import Customer, Interaction, JourneyStage
from customers.signals import interactions_logged

CUSTOMER_FIELDS = (
    "name",
    "email",
    "company",
    "phone",
    "external_ref",
    "owner",
    "timezone",
    "notes",
    "survey_opt_out",
)


def announce_interactions(ids: list[int]) -> None:
    """Tell listening apps (sentiment scoring first) about new interactions, once committed."""
    if ids:
        # robust: a failing receiver is logged, never reported as if the write had failed
        # (the rows are committed; the sentiment sweep picks up anything not queued).
        transaction.on_commit(
            lambda: interactions_logged.send(sender=Interaction, interaction_ids=list(ids)),
            robust=True,
        )


@transaction.atomic
def create_customer(
    *,
    name: str,
    email: str = "",
    company: str = "",
    phone: str = "",
    external_ref: str = "",
    owner: AbstractBaseUser | None = None,
    timezone: str = "",
    notes: str = "",
    survey_opt_out: bool = False,
) -> Customer:
    """Create a customer. Raises ValidationError (duplicate email, bad time zone, …)."""
    customer = Customer(
        name=name.strip(),
        email=email.strip(),
        company=company.strip(),
        phone=phone.strip(),
        external_ref=external_ref.strip(),
        owner=owner,
        timezone=timezone.strip(),
        notes=notes,
        survey_opt_out=survey_opt_out,
    )
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def update_customer(*, customer: Customer, **changes: object) -> Customer:
    """Change the given fields of a customer. Raises ValidationError; unknown fields TypeError."""
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"Not customer fields: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(
            customer, field, value.strip() if isinstance(value, str) and field != "notes" else value
        )
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def delete_customer(*, customer: Customer, actor: AbstractBaseUser | None = None) -> None:
    """Deleting a customer is erasing them (customers.privacy): every app's rows, their rows in
    stored CSV imports and admin history go too, in one transaction, with an audit entry
    naming `actor`. A plain cascade would leave their name and email in those places."""
    privacy.erase_customer(customer=customer, actor=actor)


@transaction.atomic
def log_interaction(
    *,
    customer: Customer,
    channel: str,
    direction: str = Interaction.Direction.INBOUND,
    occurred_at: datetime | None = None,
    stage: JourneyStage | None = None,
    subject: str = "",
    body: str = "",
    agent: AbstractBaseUser | None = None,
    external_ref: str = "",
) -> Interaction:
    """Store an interaction at once with sentiment pending, and queue it for scoring on commit.

    Nothing is lost if the model or the worker is down: the row exists, marked pending.
    """
    interaction = Interaction(
        customer=customer,
        channel=channel,
        direction=direction,
        stage=stage,
        subject=subject.strip(),
        body=body.strip(),
        agent=agent,
        external_ref=external_ref.strip(),
    )
    if occurred_at is not None:
        interaction.occurred_at = occurred_at
    interaction.full_clean()
    interaction.save()
    announce_interactions([interaction.pk])
    return interaction

"""Every write to customers and interactions goes through here (views, API, CSV import)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from customers import privacy
from customers.access import sees_every_customer
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
    owner: User | None = None,
    timezone: str = "",
    notes: str = "",
    survey_opt_out: bool = False,
    created_by: User | None = None,
) -> Customer:
    """Create a customer. Raises ValidationError (duplicate email, bad time zone, …).

    In owned mode an agent (`created_by`, who sees only the customers they own) who names no
    owner becomes the owner: otherwise the customer they just created would be hidden from
    them. A duplicate then is reported without saying that another's customer exists.
    """
    if owner is None and created_by is not None and not sees_every_customer(created_by):
        owner = created_by
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
    _full_clean(customer, by=created_by)
    customer.save()
    return customer


@transaction.atomic
def update_customer(*, customer: Customer, by: User | None = None, **changes: object) -> Customer:
    """Change the given fields of a customer. Raises ValidationError (worded for `by`, as in
    create_customer); unknown fields TypeError."""
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"Not customer fields: {', '.join(sorted(unknown))}")
    if "email" in changes and str(changes["email"]).strip().lower() != customer.email.lower():
        customer.email_undeliverable_at = None  # a new address has not bounced
    for field, value in changes.items():
        setattr(
            customer, field, value.strip() if isinstance(value, str) and field != "notes" else value
        )
    _full_clean(customer, by=by)
    customer.save()
    return customer


# A unique email or reference taken by a customer the user may not see: refused (the constraint
# holds for everyone) without confirming that such a customer exists.
UNDISCLOSED_DUPLICATE = {
    "email": "This email address cannot be used. Ask a manager if this customer is yours.",
    "external_ref": "This reference cannot be used. Ask a manager if this customer is yours.",
}


def _full_clean(customer: Customer, *, by: User | None) -> None:
    try:
        customer.full_clean()
    except ValidationError as error:
        if by is None or sees_every_customer(by) or not hasattr(error, "error_dict"):
            raise
        errors = {
            field: [
                UNDISCLOSED_DUPLICATE[field] if "already exists" in message else message
                for message in messages
            ]
            if field in UNDISCLOSED_DUPLICATE
            else messages
            for field, messages in error.message_dict.items()
        }
        raise ValidationError(errors) from None


@transaction.atomic
def delete_customer(*, customer: Customer, actor: User | None = None) -> None:
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
    agent: User | None = None,
    external_ref: str = "",
) -> Interaction:
    """Store an interaction at once with sentiment pending, and queue it for scoring on commit
    (the customer's words only: an agent's reply or internal note is never scored).

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

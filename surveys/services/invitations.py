"""Inviting customers to a survey, one or many at once: the frequency limit, opt-outs and skipped
invitations (kept with their reason), and the link each invitation carries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Interaction
from surveys import enqueue, tokens
from surveys.models import Invitation, Survey
from surveys.services import holds

Skip = Invitation.SkipReason


@dataclass
class InviteResult:
    invitation: Invitation
    # The raw link token: returned here once and never stored. None for a skipped invitation.
    token: str | None

    @property
    def skipped_reason(self) -> str:
        return self.invitation.skipped_reason


def answer_url(token: str) -> str:
    """The absolute link a customer opens (SURVEY_BASE_URL + /s/<token>/)."""
    return settings.SURVEY_BASE_URL.rstrip("/") + reverse("survey-answer", args=[token])


def _skip_reasons(*, survey: Survey, customers: list[Customer], at) -> dict[int, str]:
    """customer id → why not to invite them ("" to invite), for a batch, in one query."""
    recent: set[int] = set()
    if survey.frequency_limit_days and survey.active:
        since = at - timedelta(days=survey.frequency_limit_days)
        # Across all surveys: any invitation that was not itself skipped counts.
        recent = set(
            Invitation.objects.counted()
            .filter(customer_id__in=[c.pk for c in customers], created_at__gt=since)
            .values_list("customer_id", flat=True)
        )
    reasons: dict[int, str] = {}
    for customer in customers:
        if not survey.active:
            reasons[customer.pk] = Skip.INACTIVE
        elif customer.survey_opt_out:
            reasons[customer.pk] = Skip.OPTED_OUT
        elif not customer.email:
            reasons[customer.pk] = Skip.NO_EMAIL
        elif customer.email_undeliverable_at:
            reasons[customer.pk] = Skip.UNDELIVERABLE
        elif customer.pk in recent:
            reasons[customer.pk] = Skip.TOO_SOON
        else:
            reasons[customer.pk] = ""
    return reasons


@transaction.atomic
def _invite(
    *,
    survey: Survey,
    customer_ids: list[int],
    interaction: Interaction | None,
    created_by: User | None,
    send: bool,
) -> list[InviteResult]:
    """Invite a batch of customers in one transaction and a constant number of queries."""
    # Lock the customer rows (in id order, so two batches cannot deadlock): two agents, or an
    # agent and a bulk run, inviting the same customer at once must not both pass the
    # frequency check.
    customers = list(
        Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk")
    )
    at = timezone.now()
    reasons = _skip_reasons(survey=survey, customers=customers, at=at)
    held = holds.held_customer_ids(customer_ids=[c.pk for c in customers]) if send else set()
    user = created_by if getattr(created_by, "is_authenticated", False) else None
    results = []
    for customer in customers:
        invitation = Invitation(
            survey=survey,
            customer=customer,
            interaction=interaction,
            created_by=user,
            created_at=at,
            expires_at=at + timedelta(days=survey.link_lifetime_days),
        )
        raw = None
        if reasons[customer.pk]:
            invitation.skipped_reason = reasons[customer.pk]
            invitation.send_status = Invitation.SendStatus.SKIPPED
        else:
            raw, invitation.token_hash = tokens.new_token()
            invitation.send_status = (
                Invitation.SendStatus.PENDING if send else Invitation.SendStatus.NOT_SENT
            )
            if customer.pk in held:  # an open alert: sent when it is resolved, if still due
                invitation.send_status = Invitation.SendStatus.HELD
        # The related rows were just loaded (or locked), and the database enforces uniqueness
        # and the check constraints: validate the fields without a query per row.
        invitation.full_clean(
            exclude=["survey", "customer", "interaction", "created_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        results.append(InviteResult(invitation=invitation, token=raw))
    Invitation.objects.bulk_create([r.invitation for r in results])
    to_send = [
        r.invitation.pk
        for r in results
        if r.token and send and r.invitation.send_status == Invitation.SendStatus.PENDING
    ]
    if to_send:
        transaction.on_commit(lambda: enqueue.send_invitations(to_send))
    return results


def create_invitation(
    *,
    survey: Survey,
    customer: Customer,
    interaction: Interaction | None = None,
    created_by: User | None = None,
    send: bool = True,
) -> InviteResult:
    """Invite a customer to a survey, or record why not (opted out, no email, invited within
    the survey's frequency limit, survey inactive): a skipped invitation is kept, with its
    reason and no token, so agents and the report see it.

    The raw token is in the result only: keep it if you deliver the link yourself
    (``send=False``, e.g. an integrator). With ``send=True`` the email is sent by a task queued
    on commit; each email carries its own freshly minted link (see
    ``surveys.services.emails.send_invitation_email``).
    """
    if interaction is not None and interaction.customer_id != customer.pk:
        raise ValidationError({"interaction": "This interaction belongs to another customer."})
    (result,) = _invite(
        survey=survey,
        customer_ids=[customer.pk],
        interaction=interaction,
        created_by=created_by,
        send=send,
    )
    return result


@dataclass
class BulkSummary:
    invited: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_rows(self) -> list[tuple[str, int]]:
        labels = dict(Skip.choices)
        return [(labels.get(reason, reason), n) for reason, n in self.skipped.most_common()]


def bulk_invite(
    *, survey: Survey, customers: Iterable[Customer], created_by: User | None
) -> BulkSummary:
    """Invite many customers at once (same rules as ``create_invitation``), in one transaction
    and a constant number of queries; the emails go out from tasks. Returns how many were
    invited and how many were skipped for which reason."""
    ids = list(dict.fromkeys(c.pk for c in customers))
    summary = BulkSummary()
    if not ids:
        return summary
    for result in _invite(
        survey=survey, customer_ids=ids, interaction=None, created_by=created_by, send=True
    ):
        if result.skipped_reason:
            summary.skipped[result.skipped_reason] += 1
        else:
            summary.invited += 1
    return summary

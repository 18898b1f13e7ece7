"""The invitation emails: sending each at most once (and its reminder), the one-click opt-out,
and which sends the sweep retries or reminds."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from customers.channels.threading import send_threaded
from customers.models import Customer
from customers.models import OutboundEmail as ThreadedEmail
from customers.services import update_customer
from surveys import selectors, tokens
from surveys.models import Invitation
from surveys.services import holds
from surveys.services.invitations import answer_url

logger = logging.getLogger(__name__)

Skip = Invitation.SkipReason
Kind = ThreadedEmail.Kind


def opt_out_url(token: str) -> str:
    return settings.SURVEY_BASE_URL.rstrip("/") + reverse("survey-opt-out", args=[token])


@transaction.atomic
def opt_out(*, invitation: Invitation) -> None:
    """The customer asked for no more surveys (from a link in a survey email)."""
    customer = Customer.objects.select_for_update().get(pk=invitation.customer_id)
    if not customer.survey_opt_out:
        update_customer(customer=customer, survey_opt_out=True)


def _message(*, invitation: Invitation, token: str, reminder: bool) -> EmailMultiAlternatives:
    context = {
        "invitation": invitation,
        "survey": invitation.survey,
        "customer": invitation.customer,
        "url": answer_url(token),
        "opt_out_url": opt_out_url(token),
        "reminder": reminder,
        "expires_at": invitation.expires_at,
    }
    # Dates in the email read in the customer's time zone when we know it.
    with timezone.override(selectors.customer_timezone(invitation.customer)):
        subject = " ".join(render_to_string("surveys/email/subject.txt", context).split())
        text = render_to_string("surveys/email/invitation.txt", context)
        html = render_to_string("surveys/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.customer.email],
        headers={
            "Auto-Submitted": "auto-generated",
            # One-click unsubscribe (RFC 8058): mail clients post to the opt-out link.
            "List-Unsubscribe": f"<{context['opt_out_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def send_invitation_email(*, invitation_id: int, reminder: bool = False) -> str:
    """Send the invitation (or its reminder) by email, at most once, and record the outcome.

    Runs in a task. The invitation row stays locked while the email goes out, so a duplicated
    or retried task waits, then sees it was sent and does nothing. The email carries a link
    minted here; the link before it stays valid (``previous_token_hash``), so a reminder does
    not break the first email. Returns what happened, for the task result.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("survey", "customer")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            return "gone"
        if invitation.skipped_reason or invitation.answered_at or invitation.is_expired:
            return "not needed"
        if reminder:
            if invitation.send_status != Invitation.SendStatus.SENT or invitation.reminder_sent_at:
                return "no reminder due"
        elif invitation.send_status not in (
            Invitation.SendStatus.PENDING,
            Invitation.SendStatus.FAILED,
        ):
            return f"already {invitation.send_status}"
        customer = invitation.customer
        if holds.is_held(customer_id=customer.pk):
            # An open alert on the customer: wait; releasing the hold sends it if still due
            # (a reminder stays due and is tried again by the sweep).
            if not reminder:
                invitation.send_status = Invitation.SendStatus.HELD
                invitation.save(update_fields=["send_status"])
            return "held"
        if customer.survey_opt_out or not customer.email or customer.email_undeliverable_at:
            # Opted out (or lost the address, or it bounced) since the invitation was made.
            invitation.skipped_reason = (
                Skip.OPTED_OUT
                if customer.survey_opt_out
                else Skip.NO_EMAIL
                if not customer.email
                else Skip.UNDELIVERABLE
            )
            invitation.send_status = Invitation.SendStatus.SKIPPED
            invitation.token_hash = invitation.previous_token_hash = None
            invitation.save()
            return "skipped"
        raw, digest = tokens.new_token()
        invitation.send_attempts += 1
        try:
            send_threaded(
                _message(invitation=invitation, token=raw, reminder=reminder),
                customer=customer,
                kind=Kind.SURVEY_REMINDER if reminder else Kind.SURVEY_INVITATION,
                about=invitation,
                interaction=invitation.interaction,
            )
        except Exception as exc:  # SMTP and friends: any failure is a recorded status
            logger.warning("Survey email for invitation %s failed: %s", invitation.pk, exc)
            Invitation.objects.filter(pk=invitation.pk).update(
                send_attempts=invitation.send_attempts,
                send_error=f"{type(exc).__name__}: {exc}"[:2000],
                **({} if reminder else {"send_status": Invitation.SendStatus.FAILED}),
            )
            return "failed"
        invitation.previous_token_hash, invitation.token_hash = invitation.token_hash, digest
        invitation.sent_to = customer.email
        invitation.send_error = ""
        if reminder:
            invitation.reminder_sent_at = timezone.now()
        else:
            invitation.sent_at = timezone.now()
            invitation.send_status = Invitation.SendStatus.SENT
        invitation.save()
        return "reminded" if reminder else "sent"


def due_reminder_ids(*, limit: int = 500) -> list[int]:
    """Sent, unanswered, unexpired invitations whose survey's reminder delay has passed."""
    now = timezone.now()
    rows = (
        Invitation.objects.filter(
            send_status=Invitation.SendStatus.SENT,
            answered_at__isnull=True,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
            survey__reminder_delay_days__gt=0,
        )
        .order_by("sent_at")
        .values_list("pk", "sent_at", "survey__reminder_delay_days")[: limit * 4]
    )
    due = [pk for pk, sent_at, days in rows if sent_at + timedelta(days=days) <= now]
    return due[:limit]


def retry_ids(*, limit: int = 200) -> list[int]:
    """Failed sends worth another try (fewer than SURVEY_SEND_MAX_ATTEMPTS)."""
    return list(
        Invitation.objects.filter(
            send_status=Invitation.SendStatus.FAILED,
            send_attempts__lt=settings.SURVEY_SEND_MAX_ATTEMPTS,
            expires_at__gt=timezone.now(),
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

"""One entry point for every inbound email, whoever brings it (the IMAP poller today, a
provider's inbound webhook tomorrow): `ingest_email(raw_bytes, source=…)`.

Exactly once: each message is stored in one transaction that starts by inserting its
`InboundEmail` row, keyed by Message-ID under a unique constraint. A second poller (or a
redelivered webhook) bringing the same message waits on that insert and then finds it taken,
so one message never makes two interactions; a worker that dies mid-batch leaves each message
either wholly stored or not at all, and the next poll takes what is missing.

A customer's email becomes an inbound email interaction through `log_interaction` (the
service the forms and the API use), so it is scored and run through moment detection and the
rules like any other. Auto-replies, reports, bounces and refused messages are recorded with
their reason and never become interactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.channels import parse
from customers.channels.models import InboundEmail, Mailbox
from customers.models import Customer, Interaction
from customers.services import create_customer, log_interaction

logger = logging.getLogger(__name__)

Kind = InboundEmail.Kind
_HEADER_BYTES = 256 * 1024  # how much of a refused, oversized message is read for its header


@dataclass(frozen=True)
class IngestResult:
    inbound_email_id: int
    kind: str
    duplicate: bool = False
    interaction_id: int | None = None
    reason: str = ""


def ingest_email(
    raw_bytes: bytes,
    *,
    source: str,
    mailbox: Mailbox | None = None,
    size: int | None = None,
) -> IngestResult:
    """Record one email (the raw RFC 5322 bytes) once, and store a customer's as an interaction.

    `size` is the message's full size when `raw_bytes` is only its header (the poller does not
    fetch a message over EMAIL_IN_MAX_BYTES). Never raises for what the message contains: a
    message that cannot be read is recorded as refused, with the reason.
    """
    size = len(raw_bytes) if size is None else size
    cap = settings.EMAIL_IN_MAX_BYTES
    if size > cap:
        parsed = _header_summary(raw_bytes)
        parsed.kind = Kind.REFUSED
        parsed.reason = f"too large: {size:,} bytes (the limit, EMAIL_IN_MAX_BYTES, is {cap:,})"
    else:
        try:
            parsed = parse.parse_email(raw_bytes)
        except Exception as error:  # anything the parser cannot survive is refused, not lost
            logger.warning("Unreadable email from %s: %r", source, error)
            parsed = _header_summary(raw_bytes)
            parsed.kind = Kind.REFUSED
            parsed.reason = f"unreadable: {type(error).__name__}: {error}"[:2000]
    return _store(parsed, source=source, mailbox=mailbox, size=size)


def _header_summary(raw_bytes: bytes) -> parse.ParsedEmail:
    head = raw_bytes[:_HEADER_BYTES]
    try:
        summary = parse.header_summary(head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    except Exception:
        summary = parse.ParsedEmail(message_key="")
    if summary.message_key.startswith("sha256:") or not summary.message_key:
        summary.message_key = parse.content_hash(raw_bytes)
    return summary


def _store(
    parsed: parse.ParsedEmail, *, source: str, mailbox: Mailbox | None, size: int
) -> IngestResult:
    with transaction.atomic():
        taken = InboundEmail.objects.filter(message_key=parsed.message_key).first()
        if taken is not None:
            return _duplicate(taken)
        row = InboundEmail(
            message_key=parsed.message_key,
            kind=parsed.kind,
            reason=parsed.reason,
            source=source[:120],
            mailbox=mailbox,
            from_address=parsed.from_address[:320],
            subject=parsed.subject[:998],
            sent_at=parsed.sent_at,
            in_reply_to=parsed.in_reply_to[:998],
            references=" ".join(parsed.references),
            size=size,
            attachments=parsed.attachments,
            failed_recipients=parsed.failed_recipients,
        )
        try:
            # Another transaction inserting the same key makes this wait for its outcome.
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            return _duplicate(InboundEmail.objects.get(message_key=parsed.message_key))

        if parsed.kind == Kind.BOUNCE:
            # Kept with the customer it is about (and erased with them).
            row.customer = _mark_undeliverable(parsed.failed_recipients)
        if row.kind == Kind.CUSTOMER:
            _store_customer_email(row, parsed)
        if row.from_address and row.customer_id is None:
            row.customer = Customer.objects.filter(email__iexact=row.from_address).first()
        row.save()
        # The other half of issue 15 (outbound Message-IDs) links replies to what they answer.
        _link_reply(row, parsed)
    return IngestResult(
        inbound_email_id=row.pk,
        kind=row.kind,
        interaction_id=row.interaction_id,
        reason=row.reason,
    )


def _duplicate(row: InboundEmail) -> IngestResult:
    return IngestResult(
        inbound_email_id=row.pk,
        kind=row.kind,
        duplicate=True,
        interaction_id=row.interaction_id,
        reason=row.reason,
    )


def _store_customer_email(row: InboundEmail, parsed: parse.ParsedEmail) -> None:
    """The interaction, or the reason there is none (row.kind and row.reason changed)."""
    if not parsed.from_address:
        row.kind, row.reason = Kind.REFUSED, "no valid sender address (From)"
        return
    body = parsed.new_text
    if not body:
        row.kind = Kind.NO_TEXT
        row.reason = "nothing written above the quoted or forwarded text"
        return
    try:
        customer = _customer_for(parsed)
    except ValidationError as error:
        row.kind, row.reason = Kind.REFUSED, f"cannot add the sender: {error.messages}"[:2000]
        return
    if customer is None:
        row.kind = Kind.UNKNOWN_SENDER
        row.reason = "no customer has this address (EMAIL_IN_CREATE_CUSTOMERS is off)"
        return
    row.customer = customer
    cap = settings.INTERACTION_BODY_MAX_CHARS
    if len(body) > cap:
        body = body[: cap - 40].rstrip() + "\n[… cut: the email is longer]"
    # A reply's subject ("Re: Thank you for your order!") is ours, not the customer's words.
    subject = "" if parsed.is_reply else parsed.subject[:200]
    try:
        with transaction.atomic():
            interaction = log_interaction(
                customer=customer,
                channel=Interaction.Channel.EMAIL,
                direction=Interaction.Direction.INBOUND,
                occurred_at=_occurred_at(parsed.sent_at),
                subject=subject,
                body=body,
            )
    except ValidationError as error:
        row.kind, row.reason = Kind.REFUSED, f"not a valid interaction: {error.messages}"[:2000]
        return
    row.interaction = interaction


def _occurred_at(sent_at: datetime | None) -> datetime:
    """The Date header, unless it is absurd (the future, or before INTERACTION_EARLIEST)."""
    now = timezone.now()
    if sent_at is None or sent_at > now + timedelta(minutes=5):
        return now
    earliest = datetime.combine(
        date.fromisoformat(settings.INTERACTION_EARLIEST), datetime.min.time(), tzinfo=UTC
    )
    return sent_at if sent_at >= earliest else now


def _customer_for(parsed: parse.ParsedEmail) -> Customer | None:
    customer = Customer.objects.filter(email__iexact=parsed.from_address).first()
    if customer is not None or not settings.EMAIL_IN_CREATE_CUSTOMERS:
        return customer
    name = parsed.from_name or parsed.from_address.split("@", 1)[0]
    try:
        with transaction.atomic():
            return create_customer(name=name[:200], email=parsed.from_address)
    except (IntegrityError, ValidationError):
        # Created meanwhile by another poller (its email taken): use it.
        customer = Customer.objects.filter(email__iexact=parsed.from_address).first()
        if customer is None:
            raise
        return customer


def _mark_undeliverable(addresses: list[str]) -> Customer | None:
    """Mark the customers with these addresses undeliverable; returns the first of them."""
    first = None
    for address in addresses:
        Customer.objects.filter(email__iexact=address, email_undeliverable_at__isnull=True).update(
            email_undeliverable_at=timezone.now()
        )
        first = first or Customer.objects.filter(email__iexact=address).first()
    return first


def _link_reply(row: InboundEmail, parsed: parse.ParsedEmail) -> None:
    """Hand a reply to the outbound side (customers.channels.threading, issue 15's other
    half), which knows the Message-IDs MemoryCRM sent. Until that module exists, the
    In-Reply-To and References kept on the row let it link replies afterwards."""
    if row.interaction_id is None or not (parsed.in_reply_to or parsed.references):
        return
    try:
        # Optional at import time: the module arrives with the outbound half of issue 15.
        from customers.channels import threading as outbound_threading
    except ImportError:
        return
    find_outbound = getattr(outbound_threading, "find_outbound", None)
    if find_outbound is not None:
        # TODO(issue 15, merge): attach the interaction to what it answers.
        find_outbound(parsed.in_reply_to, parsed.references)

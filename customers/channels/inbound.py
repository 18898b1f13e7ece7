"""One entry point for every inbound email, whoever brings it (the IMAP poller today, a
provider's inbound webhook tomorrow): `ingest_email(raw_bytes, source=…)`, and
`ingest_emails([...])` for a batch (the poller's).

Exactly once: a batch is stored in one transaction that starts by claiming its messages, one
`InboundEmail` row per Message-ID under a unique constraint (`INSERT … ON CONFLICT DO
NOTHING RETURNING`). A second poller (or a redelivered webhook) bringing the same message
waits on that insert until the first commits, then finds the message taken and skips it; so
one message never makes two interactions. A worker that dies mid-batch leaves the batch wholly
stored or not at all, and the next poll takes what is missing. Keys are claimed in sorted
order, so two batches sharing messages lock them in the same order (no deadlock).

A customer's email becomes an inbound email interaction and is announced like every other
write path (customers.services.announce_interactions: scoring, moment detection, rules), once
per batch, as the CSV import does. Auto-replies, reports, bounces and refused messages are
recorded with their reason and never become interactions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from customers.channels import parse
from customers.channels.models import InboundEmail, Mailbox
from customers.channels.threading import find_outbounds
from customers.models import Customer, Interaction
from customers.services import announce_interactions

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
    refused: str = "",
) -> IngestResult:
    """Record one email (the raw RFC 5322 bytes) once, and store a customer's as an interaction.

    `size` is the message's full size when `raw_bytes` is only its header (the poller does not
    fetch a message over EMAIL_IN_MAX_BYTES). `refused` is the reason when the caller has
    refused the message itself (a provider's post too large to read whole): only its header is
    read, and it is recorded as refused with that reason. Never raises for what the message
    contains: a message that cannot be read is recorded as refused, with the reason.
    """
    if refused:
        item = _refused(raw_bytes, len(raw_bytes) if size is None else size, refused)
        return _ingest([item], source=source, mailbox=mailbox)[0]
    return ingest_emails([(raw_bytes, size)], source=source, mailbox=mailbox)[0]


def ingest_emails(
    messages: Iterable[tuple[bytes, int | None]],
    *,
    source: str,
    mailbox: Mailbox | None = None,
) -> list[IngestResult]:
    """`ingest_email` for a batch of (raw bytes, full size or None), in one transaction; one
    result per message, in order. If the batch cannot be stored (a database error), each
    message is tried alone, and one that still fails is recorded as refused with the error."""
    return _ingest([_read(raw, size) for raw, size in messages], source=source, mailbox=mailbox)


def _ingest(items: list[_Item], *, source: str, mailbox: Mailbox | None) -> list[IngestResult]:
    try:
        with transaction.atomic():
            return _store(items, source=source, mailbox=mailbox)
    except DatabaseError as error:
        if len(items) == 1:
            return [_store_refused(items[0], source=source, mailbox=mailbox, error=error)]
        logger.warning("Email batch from %s failed (%r): storing one by one", source, error)
    results = []
    for item in items:
        try:
            with transaction.atomic():
                results.extend(_store([item], source=source, mailbox=mailbox))
        except DatabaseError as error:
            results.append(_store_refused(item, source=source, mailbox=mailbox, error=error))
    return results


@dataclass
class _Item:
    parsed: parse.ParsedEmail
    size: int


def _read(raw_bytes: bytes, size: int | None) -> _Item:
    size = len(raw_bytes) if size is None else size
    cap = settings.EMAIL_IN_MAX_BYTES
    if size > cap:
        reason = f"too large: {size:,} bytes (the limit, EMAIL_IN_MAX_BYTES, is {cap:,})"
        return _refused(raw_bytes, size, reason)
    try:
        return _Item(parse.parse_email(raw_bytes), size)
    except Exception as error:  # anything the parser cannot survive is refused, not lost
        logger.warning("Unreadable email: %r", error)
        return _refused(raw_bytes, size, f"unreadable: {type(error).__name__}: {error}")


def _refused(raw_bytes: bytes, size: int, reason: str) -> _Item:
    parsed = _header_summary(raw_bytes)
    parsed.kind, parsed.reason = Kind.REFUSED, reason[:2000]
    return _Item(parsed, size)


def _header_summary(raw_bytes: bytes) -> parse.ParsedEmail:
    head = raw_bytes[:_HEADER_BYTES]
    try:
        summary = parse.header_summary(head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    except Exception:
        summary = parse.ParsedEmail(message_key="")
    if summary.message_key.startswith("sha256:") or not summary.message_key:
        summary.message_key = parse.content_hash(raw_bytes)
    return summary


def _row(item: _Item, *, source: str, mailbox: Mailbox | None) -> InboundEmail:
    parsed = item.parsed
    return InboundEmail(
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
        size=item.size,
        attachments=parsed.attachments,
        failed_recipients=parsed.failed_recipients,
    )


def _store(items: list[_Item], *, source: str, mailbox: Mailbox | None) -> list[IngestResult]:
    rows: dict[str, InboundEmail] = {}
    for item in items:  # the same message twice in one batch: the first counts
        rows.setdefault(item.parsed.message_key, _row(item, source=source, mailbox=mailbox))
    # Messages stored before (a redelivery, a poll after a crash) are skipped at once.
    known = set(
        InboundEmail.objects.filter(message_key__in=list(rows)).values_list(
            "message_key", flat=True
        )
    )
    parsed_of = {item.parsed.message_key: item.parsed for item in items}
    new = [row for key, row in rows.items() if key not in known]
    customers = _customers_by_address([row.from_address for row in new])
    refusals = _add_new_senders(
        [parsed_of[row.message_key] for row in new if row.kind == Kind.CUSTOMER], customers
    )
    interactions: list[tuple[InboundEmail, Interaction]] = []
    for row in new:
        parsed = parsed_of[row.message_key]
        if row.kind == Kind.BOUNCE:
            # Kept with the customer it is about (and erased with them).
            row.customer = _mark_undeliverable(parsed.failed_recipients)
        elif row.kind == Kind.CUSTOMER:
            interaction = _customer_interaction(row, parsed, customers, refusals)
            if interaction is not None:
                interactions.append((row, interaction))
        if row.customer_id is None and row.from_address:
            row.customer = customers.get(row.from_address.lower())
    # The interactions first, so each row is written once, whole; the claim then decides.
    Interaction.objects.bulk_create([interaction for _, interaction in interactions])
    for row, interaction in interactions:
        row.interaction = interaction
    # The other half of issue 15 (outbound Message-IDs): replies linked to what they answer.
    _link_replies([row for row, _ in interactions], parsed_of)
    claimed = _claim(sorted(new, key=lambda row: row.message_key)) if new else {}
    mine = [row for row in new if row.message_key in claimed]
    for row in mine:
        row.pk = claimed[row.message_key]
    lost = [i.pk for row, i in interactions if row.message_key not in claimed]
    if lost:  # another poller stored these messages while this one read them: theirs
        Interaction.objects.filter(pk__in=lost).delete()
    announce_interactions([i.pk for row, i in interactions if row.message_key in claimed])

    taken = {}
    if len(mine) < len(items):
        others = [key for key in rows if key not in claimed]
        taken = {
            row.message_key: row for row in InboundEmail.objects.filter(message_key__in=others)
        }
    results, seen = [], set()
    for item in items:
        key = item.parsed.message_key
        row = rows[key] if key in claimed else taken.get(key)
        if row is None:  # claimed by a transaction that then rolled back: try again later
            raise DatabaseError(f"message {key} was neither stored nor found")
        duplicate = key not in claimed or key in seen
        seen.add(key)
        results.append(
            IngestResult(
                inbound_email_id=row.pk,
                kind=row.kind,
                duplicate=duplicate,
                interaction_id=row.interaction_id,
                reason=row.reason,
            )
        )
    return results


def _claim(rows: list[InboundEmail]) -> dict[str, int]:
    """Insert the rows whose message is not taken yet; {message_key: id} of those inserted.
    A row another transaction is inserting waits for it, then counts as taken if it commits."""
    fields = [f for f in InboundEmail._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(InboundEmail._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({quote('message_key')}) DO NOTHING "
        f"RETURNING {quote('id')}, {quote('message_key')}"
    )
    params = [f.get_db_prep_save(f.pre_save(row, True), connection) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: pk for pk, key in cursor.fetchall()}


def _store_refused(
    item: _Item, *, source: str, mailbox: Mailbox | None, error: Exception
) -> IngestResult:
    """The last resort for a message the database refused: recorded as refused, with the
    error; if even that fails, the error is raised (the poller stops and tries again later)."""
    row = _row(item, source=source, mailbox=mailbox)
    # Only what cannot be at fault: plain fields, no lists.
    row.attachments, row.failed_recipients, row.references = [], [], ""
    row.kind, row.reason = Kind.REFUSED, f"could not be stored: {type(error).__name__}: {error}"
    row.reason = row.reason[:2000]
    with transaction.atomic():
        claimed = _claim([row])
        if not claimed:
            taken = InboundEmail.objects.get(message_key=row.message_key)
            return IngestResult(taken.pk, taken.kind, True, taken.interaction_id, taken.reason)
    return IngestResult(claimed[row.message_key], row.kind, reason=row.reason)


def _customers_by_address(addresses: list[str]) -> dict[str, Customer]:
    """Customers by lower-cased email, in one query (served by the case-insensitive unique
    index on email)."""
    wanted = sorted({address.lower() for address in addresses if address})
    if not wanted:
        return {}
    found = Customer.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=wanted)
    return {customer.email_lower: customer for customer in found}


def _add_new_senders(
    emails: list[parse.ParsedEmail], customers: dict[str, Customer]
) -> dict[str, str]:
    """Create the senders of customer emails who are not customers yet, in one insert; returns
    why a sender could not be added, by address.

    Each is checked as `create_customer` checks it (`full_clean`) but for its unique email,
    which the insert decides: a sender another poller added meanwhile is skipped (`ON
    CONFLICT DO NOTHING`, after waiting for that poller's transaction) and read back. The rows
    go in address order, so two pollers adding the same senders lock them in the same order
    and cannot deadlock (as the CSV import, one insert for many customers)."""
    if not settings.EMAIL_IN_CREATE_CUSTOMERS:
        return {}
    senders = {}
    for parsed in emails:
        address = parsed.from_address.lower()
        if address and parsed.new_text and address not in customers:
            senders.setdefault(address, parsed)
    refusals, new = {}, []
    for address in sorted(senders):
        parsed = senders[address]
        name = parsed.from_name or parsed.from_address.split("@", 1)[0]
        customer = Customer(name=name[:200].strip(), email=parsed.from_address.strip())
        try:
            customer.full_clean(validate_constraints=False)
        except ValidationError as error:
            refusals[address] = f"cannot add the sender: {error.messages}"[:2000]
        else:
            new.append(customer)
    if not new:
        return refusals
    Customer.objects.bulk_create(new, ignore_conflicts=True)
    customers.update(_customers_by_address([customer.email for customer in new]))
    for customer in new:
        if customer.email.lower() not in customers:  # skipped, then erased meanwhile
            raise DatabaseError(f"sender {customer.email} was neither added nor found")
    return refusals


def _customer_interaction(
    row: InboundEmail,
    parsed: parse.ParsedEmail,
    customers: dict[str, Customer],
    refusals: dict[str, str],
) -> Interaction | None:
    """The interaction to store, or None with the reason on the row (row.kind changed)."""
    if not parsed.from_address:
        row.kind, row.reason = Kind.REFUSED, "no valid sender address (From)"
        return None
    body = parsed.new_text
    if not body and parsed.defects and not parsed.text:
        row.kind = Kind.REFUSED
        row.reason = f"no readable text (malformed MIME: {', '.join(parsed.defects)})"[:2000]
        return None
    if not body:
        row.kind = Kind.NO_TEXT
        row.reason = "nothing written above the quoted or forwarded text"
        return None
    address = parsed.from_address.lower()
    if address in refusals:
        row.kind, row.reason = Kind.REFUSED, refusals[address]
        return None
    if address not in customers:
        row.kind = Kind.UNKNOWN_SENDER
        row.reason = "no customer has this address (EMAIL_IN_CREATE_CUSTOMERS is off)"
        return None
    row.customer = customers[address]
    cap = settings.INTERACTION_BODY_MAX_CHARS
    if len(body) > cap:
        body = body[: cap - 40].rstrip() + "\n[… cut: the email is longer]"
    # A reply's subject ("Re: Thank you for your order!") is ours, not the customer's words.
    subject = "" if parsed.is_reply else parsed.subject[:200].strip()
    interaction = Interaction(
        customer=row.customer,
        channel=Interaction.Channel.EMAIL,
        direction=Interaction.Direction.INBOUND,
        occurred_at=_occurred_at(parsed.sent_at),
        subject=subject,
        body=body.strip(),
    )
    try:
        # The checks of log_interaction, without a query per row (the customer is known).
        interaction.clean_fields(exclude=["customer", "stage", "agent"])
        interaction.clean()
    except ValidationError as error:
        row.kind, row.reason = Kind.REFUSED, f"not a valid interaction: {error.messages}"[:2000]
        return None
    return interaction


def _occurred_at(sent_at: datetime | None) -> datetime:
    """The Date header, unless it is absurd (the future, or before INTERACTION_EARLIEST)."""
    now = timezone.now()
    if sent_at is None or sent_at > now + timedelta(minutes=5):
        return now
    earliest = datetime.combine(
        date.fromisoformat(settings.INTERACTION_EARLIEST), datetime.min.time(), tzinfo=UTC
    )
    return sent_at if sent_at >= earliest else now


def _mark_undeliverable(addresses: list[str]) -> Customer | None:
    """Mark the customers with these addresses undeliverable; returns the first of them."""
    first = None
    for address in addresses:
        Customer.objects.filter(email__iexact=address, email_undeliverable_at__isnull=True).update(
            email_undeliverable_at=timezone.now()
        )
        first = first or Customer.objects.filter(email__iexact=address).first()
    return first


def _link_replies(rows: list[InboundEmail], parsed_of: dict[str, parse.ParsedEmail]) -> None:
    """Link each customer's reply to the email MemoryCRM sent that it answers (its In-Reply-To,
    else its References; customers.channels.threading.find_outbounds), in one query for the
    batch, before the rows are written.

    Only an email sent to the same customer: anyone can put one of our Message-IDs in a
    header (a forwarded email, a guessed or leaked id), and a reply from another address must
    not show, on its sender's page, what was sent to someone else. Such a reply is still stored
    on its sender's own customer, unlinked."""
    replies = [
        (row, parsed_of[row.message_key])
        for row in rows
        if parsed_of[row.message_key].in_reply_to or parsed_of[row.message_key].references
    ]
    found = find_outbounds([(parsed.in_reply_to, parsed.references) for _, parsed in replies])
    for (row, _), outbound in zip(replies, found, strict=True):
        if outbound is not None and outbound.customer_id == row.customer_id:
            row.answers = outbound

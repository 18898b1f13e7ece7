"""Threading of what MemoryCRM sends to customers, so a reply links to what it answers.

Every email to a customer is sent through ``send_threaded``: it gets a Message-ID of its own
(``make_msgid`` in EMAIL_MESSAGE_ID_DOMAIN) and, when SUPPORT_REPLY_TO is set, a Reply-To of the
support mailbox, and it is recorded (OutboundEmail) before it leaves, so a reply arriving at
once is linked. The email ingest calls ``find_outbound`` with the reply's In-Reply-To and
References headers. The module name shadows nothing: it is always imported as
``customers.channels.threading``.
"""

from __future__ import annotations

import re
from email.utils import make_msgid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage
from django.db import models, transaction

from customers.models import Customer, Interaction, OutboundEmail

# A Message-ID as it appears in In-Reply-To / References: <local@domain>, possibly folded.
_MSG_ID = re.compile(r"<[^<>\s]+>")


def new_message_id() -> str:
    return make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)


def message_ids(header: str) -> list[str]:
    """The <message ids> in a header value, in order; a bare id without brackets is one too."""
    header = header or ""
    found = _MSG_ID.findall(header)
    if not found and header.strip() and " " not in header.strip():
        found = [f"<{header.strip().strip('<>')}>"]
    return found


def send_threaded(
    message: EmailMessage,
    *,
    customer: Customer,
    kind: str,
    about: models.Model | None = None,
    interaction: Interaction | None = None,
) -> OutboundEmail:
    """Give ``message`` its Message-ID and Reply-To, record it, then send it (raising what the
    backend raises). A message that fails to send is not kept: nobody can answer it."""
    message_id = new_message_id()
    message.extra_headers = {**message.extra_headers, "Message-ID": message_id}
    if settings.SUPPORT_REPLY_TO:
        message.reply_to = [settings.SUPPORT_REPLY_TO]
    with transaction.atomic():
        record = OutboundEmail(
            message_id=message_id,
            customer=customer,
            interaction=interaction,
            kind=kind,
            about_type=ContentType.objects.get_for_model(about) if about is not None else None,
            about_id=about.pk if about is not None else None,
            to=", ".join(message.to)[:254],
            subject=str(message.subject)[:300],
        )
        record.full_clean()
        record.save()
    try:
        message.send()
    except Exception:
        OutboundEmail.objects.filter(pk=record.pk).delete()
        raise
    return record


def find_outbound(in_reply_to: str, references: list[str]) -> OutboundEmail | None:
    """The email MemoryCRM sent that a reply answers: the one its In-Reply-To names, else the
    latest of those its References name (a reply to a reply still finds the thread), else None.
    Headers are taken as they come: "<id>", a bare "id", or several ids in one string."""
    return find_outbounds([(in_reply_to, references)])[0]


def find_outbounds(replies: list[tuple[str, list[str]]]) -> list[OutboundEmail | None]:
    """`find_outbound` for each (In-Reply-To, References) of a batch of replies, in one query."""
    wanted_of = [_wanted_ids(in_reply_to, references) for in_reply_to, references in replies]
    every = sorted({message_id for wanted in wanted_of for message_id in wanted})
    found = (
        {
            e.message_id: e
            for e in OutboundEmail.objects.select_related("customer").filter(message_id__in=every)
        }
        if every
        else {}
    )
    return [next((found[w] for w in wanted if w in found), None) for wanted in wanted_of]


def _wanted_ids(in_reply_to: str, references: list[str]) -> list[str]:
    """The ids a reply names, the most telling first: In-Reply-To, then References newest first."""
    wanted = message_ids(in_reply_to)
    for reference in reversed(references or []):
        wanted += list(reversed(message_ids(reference)))
    return [w for w in wanted if len(w) <= 255]

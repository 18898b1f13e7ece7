"""Polling one IMAP mailbox with IMAPClient.

IMAPClient rather than imap-tools: both are maintained, but IMAPClient hands back the raw
bytes of each message (we parse them once, with `policy.default`; imap-tools parses every
message itself with the legacy compat32 policy), returns UIDVALIDITY from SELECT, and has
MOVE, flags and typed errors without dropping to imaplib.

A poll reads only messages above the mailbox's `last_uid` (for the folder's current
UIDVALIDITY), in batches: sizes first (a message over EMAIL_IN_MAX_BYTES has only its header
fetched, and is recorded as refused), then the bodies, each stored once by `ingest_email`.
One thread speaks to the server and fetches the next batch while this one is parsed and
stored, so a distant server's round trips overlap that work (bench/ingest.py --rtt-ms).
After a batch is stored its messages are flagged (\\Seen and the MemoryCRM keyword) or moved, and
`last_uid` advances (never backwards, whoever else polls). A poller that dies mid-batch leaves
`last_uid` where it was; the next poll fetches those messages again and `ingest_email` finds
the ones already stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from customers.channels.inbound import ingest_emails
from customers.channels.models import Mailbox

logger = logging.getLogger(__name__)

KEYWORD = b"MemoryCRM"


class MailboxError(Exception):
    """The mailbox cannot be read (configuration, network, login, folder)."""


@dataclass
class PollResult:
    fetched: int = 0
    stored: int = 0  # new interactions
    recorded: int = 0  # new rows of any kind (interactions included)
    duplicates: int = 0
    refused: int = 0
    error: str = ""
    kinds: dict[str, int] = field(default_factory=dict)


def connect(mailbox: Mailbox) -> IMAPClient:
    password = os.environ.get(mailbox.password_env, "")
    if not password:
        raise MailboxError(f"the environment variable {mailbox.password_env} is not set")
    timeout = settings.EMAIL_IN_TIMEOUT
    # The system's CAs, or EMAIL_IN_CA_FILE for a server with a private CA; always verified.
    context = ssl.create_default_context(cafile=settings.EMAIL_IN_CA_FILE or None)
    if mailbox.security == Mailbox.Security.SSL:
        client = IMAPClient(
            mailbox.host, port=mailbox.port, ssl=True, ssl_context=context, timeout=timeout
        )
    else:
        client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False, timeout=timeout)
        if mailbox.security == Mailbox.Security.STARTTLS:
            client.starttls(context)
    client.login(mailbox.username, password)
    return client


def poll_mailbox(mailbox_id: int, *, batch_size: int | None = None) -> PollResult:
    """Take every new message of one mailbox; errors are recorded on the mailbox, not raised."""
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    result = PollResult()
    try:
        client = connect(mailbox)
    except Exception as error:
        return _failed(mailbox, result, error)
    try:
        _poll(client, mailbox, result, batch_size or settings.EMAIL_IN_BATCH)
    except Exception as error:
        _failed(mailbox, result, error)
    else:
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now(), last_error="")
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return result


def _failed(mailbox: Mailbox, result: PollResult, error: Exception) -> PollResult:
    result.error = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("Mailbox %s: %s", mailbox.name, result.error)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_polled_at=timezone.now(), last_error=result.error
    )
    return result


def _poll(client: IMAPClient, mailbox: Mailbox, result: PollResult, batch_size: int) -> None:
    selected = client.select_folder(mailbox.folder)
    validity = int(selected[b"UIDVALIDITY"])
    last_uid = mailbox.last_uid
    if mailbox.uid_validity != validity:
        # A new folder, or the server renumbered it: read it all again (Message-IDs dedupe).
        Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
        last_uid = 0
    # "n:*" always matches the last message, even below n: filter.
    uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    moving = mailbox.after_ingest == Mailbox.AfterIngest.MOVE
    if moving and uids and not client.folder_exists(mailbox.processed_folder):
        with contextlib.suppress(IMAPClientError):  # another poller created it meanwhile
            client.create_folder(mailbox.processed_folder)
    batches = [uids[start : start + batch_size] for start in range(0, len(uids), batch_size)]
    # One thread speaks to the server, one command at a time: it fetches the next batch while
    # this one is parsed and stored (a distant server's round trips overlap that work), and
    # flags a batch only once it is stored.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap") as server:
        fetching = server.submit(_fetch_batch, client, batches[0]) if batches else None
        for index, batch in enumerate(batches):
            raws = fetching.result()
            if index + 1 < len(batches):
                fetching = server.submit(_fetch_batch, client, batches[index + 1])
            _store_batch(mailbox, raws, result)
            server.submit(_mark_taken, client, mailbox, batch).result()
            Mailbox.objects.filter(
                pk=mailbox.pk, uid_validity=validity, last_uid__lt=batch[-1]
            ).update(last_uid=batch[-1])


def _fetch_batch(client: IMAPClient, batch: list[int]) -> list[tuple[bytes, int | None]]:
    """(raw bytes, None) for each message of the batch still there, or (its header, its full
    size) for one over EMAIL_IN_MAX_BYTES."""
    cap = settings.EMAIL_IN_MAX_BYTES
    sizes = {
        uid: data.get(b"RFC822.SIZE", 0)
        for uid, data in client.fetch(batch, ["RFC822.SIZE"]).items()
    }
    small = [uid for uid in batch if sizes.get(uid, 0) <= cap]
    large = [uid for uid in batch if uid in sizes and uid not in small]
    messages = (
        {uid: data.get(b"BODY[]") for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items()}
        if small
        else {}
    )
    headers = (
        {
            uid: data.get(b"BODY[HEADER]")
            for uid, data in client.fetch(large, ["BODY.PEEK[HEADER]"]).items()
        }
        if large
        else {}
    )
    fetched = [uid for uid in batch if messages.get(uid) or headers.get(uid)]
    # Gone meanwhile (another poller moved them): they are that poller's.
    return [
        (bytes(messages[uid]), None) if messages.get(uid) else (bytes(headers[uid]), sizes.get(uid))
        for uid in fetched
    ]


def _store_batch(
    mailbox: Mailbox, raws: list[tuple[bytes, int | None]], result: PollResult
) -> None:
    source = f"imap:{mailbox.name}"[:120]
    result.fetched += len(raws)
    for outcome in ingest_emails(raws, source=source, mailbox=mailbox):
        if outcome.duplicate:
            result.duplicates += 1
            continue
        result.recorded += 1
        result.kinds[outcome.kind] = result.kinds.get(outcome.kind, 0) + 1
        if outcome.interaction_id:
            result.stored += 1
        if outcome.kind == "refused":
            result.refused += 1


def _mark_taken(client: IMAPClient, mailbox: Mailbox, batch: list[int]) -> None:
    if mailbox.after_ingest == Mailbox.AfterIngest.MOVE:
        if client.has_capability("MOVE"):
            client.move(batch, mailbox.processed_folder)
        else:
            client.copy(batch, mailbox.processed_folder)
            client.delete_messages(batch)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(batch)
            else:
                client.expunge()
        return
    try:  # one command: a round trip per batch fewer to a distant server
        client.add_flags(batch, [b"\\Seen", KEYWORD])
    except Exception:  # a server that allows no keywords: \Seen says it is taken
        logger.info("Mailbox %s does not accept the %s keyword", mailbox.name, KEYWORD.decode())
        client.add_flags(batch, [b"\\Seen"])

"""Email in: the mailboxes MemoryCRM polls and every email it has taken from them (or from a
provider's inbound webhook), one row per message, whatever became of it.

Imported by customers.models, so Django sees these as models of the customers app.
"""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Mailbox(models.Model):
    """An IMAP folder polled for customers' emails (configured in Django admin).

    The password is never stored: `password_env` names the environment variable of the
    worker processes that holds it. `uid_validity` and `last_uid` record how far the poller
    has read (RFC 3501 UIDs); a new UIDVALIDITY means the server renumbered the folder, and the
    poller reads it again from the start (Message-IDs keep that from storing anything twice).
    """

    class Security(models.TextChoices):
        SSL = "ssl", "TLS from the start (IMAPS, usually port 993)"
        STARTTLS = "starttls", "STARTTLS (usually port 143)"
        NONE = "none", "None: plain text, only to this machine (localhost)"

    class AfterIngest(models.TextChoices):
        FLAG = "flag", "Mark as seen and add the MemoryCRM keyword"
        MOVE = "move", "Move to the processed folder"

    name = models.CharField(max_length=80, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=16, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    password_env = models.CharField(
        "password environment variable",
        max_length=100,
        help_text="The name of the environment variable (of the worker processes) that holds "
        "the password, e.g. SUPPORT_MAILBOX_PASSWORD. The password itself is never stored.",
    )
    folder = models.CharField(max_length=255, default="INBOX")
    after_ingest = models.CharField(
        max_length=8, choices=AfterIngest.choices, default=AfterIngest.FLAG
    )
    processed_folder = models.CharField(
        max_length=255,
        default="MemoryCRM",
        help_text="Where taken messages go when they are moved (created if missing).",
    )
    enabled = models.BooleanField(default=True)
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.password_env and not _ENV_NAME.match(self.password_env):
            errors["password_env"] = (
                "Give the name of an environment variable (capitals, digits and _), "
                "not the password itself."
            )
        if self.security == self.Security.NONE and self.host and not _is_loopback(self.host):
            errors["security"] = (
                "A password is never sent in plain text over the network: choose TLS or "
                "STARTTLS (plain text is allowed only to localhost)."
            )
        if self.after_ingest == self.AfterIngest.MOVE and self.processed_folder == self.folder:
            errors["processed_folder"] = "Moving messages to the folder they are in does nothing."
        if errors:
            raise ValidationError(errors)


class InboundEmail(models.Model):
    """One email received, keyed by its Message-ID (or a hash of its content when it has none):
    at most one row, and so at most one interaction, per message, whichever poller or webhook
    delivery brings it. Auto-replies, delivery reports, bounces and refused messages are kept
    here with their reason and never become interactions (never scored, never alerted on)."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", "From a customer (stored as an interaction)"
        AUTO_REPLY = "auto_reply", "Automatic reply (out of office, auto-submitted, bulk)"
        BOUNCE = "bounce", "Bounce: delivery failed"
        REPORT = "report", "Delivery or read report"
        NO_TEXT = "no_text", "Nothing new written (only quoted or forwarded text)"
        UNKNOWN_SENDER = "unknown_sender", "Unknown sender (customer creation is off)"
        REFUSED = "refused", "Refused"

    message_key = models.CharField(
        max_length=255,
        unique=True,
        help_text="The Message-ID without <>, or sha256:<hash> of the message when it has none.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=120, help_text="imap:<mailbox>, or the webhook")
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inbound_emails",
    )
    interaction = models.OneToOneField(
        "customers.Interaction",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inbound_email",
    )
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    # What this reply answers: an email MemoryCRM sent to the same customer, found by its
    # In-Reply-To or References (customers.channels.threading.find_outbound).
    answers = models.ForeignKey(
        "customers.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        help_text="The email MemoryCRM sent to this customer that this one replies to.",
    )
    size = models.PositiveBigIntegerField(default=0)
    # [{"name": "invoice.pdf", "size": 12345, "content_type": "application/pdf"}, …]
    attachments = models.JSONField(default=list, blank=True)
    # Addresses a bounce reports as failed (customers marked undeliverable).
    failed_recipients = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["kind", "received_at"], name="inbound_email_kind")]
        constraints = [
            models.CheckConstraint(
                condition=Q(interaction__isnull=True) | Q(kind="customer"),
                name="inbound_email_interaction_only_for_customer_mail",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject or self.message_key}"

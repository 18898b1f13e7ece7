"""Email in: the mailboxes MemoryCRM polls and every email it has taken from them (or from a
provider's inbound webhook), one row per message, whatever became of it.

Imported by customers.models, so Django sees these as models of the customers app.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from customers.models import Customer, Interaction

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


class Conversation(models.Model):
    """The transcript behind a chat or call interaction (customers.channels.conversations).

    The interaction's body holds only the customer's turns, so sentiment reads only the
    customer's words; the full exchange (agents' turns included) is kept here for the timeline.
    ``opening_score`` and ``ending_score`` are the sentiment of the first and the last customer
    turn (the trajectory), written by the scoring pipeline with the interaction's own score.
    """

    class Speaker(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"

    interaction = models.OneToOneField(
        Interaction, on_delete=models.CASCADE, primary_key=True, related_name="conversation"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    # [{"speaker": "customer" | "agent", "text": "…"}, …] in the order spoken (capped in size).
    turns = models.JSONField(default=list)
    # The integrator's own fields (queue, recording URL, …), shown to staff, never scored.
    metadata = models.JSONField(default=dict, blank=True)
    opening_score = models.FloatField(null=True, blank=True)
    ending_score = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")),
                name="conversation_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(opening_score__isnull=True)
                | (Q(opening_score__gte=-1) & Q(opening_score__lte=1)),
                name="conversation_opening_score_range",
            ),
            models.CheckConstraint(
                condition=Q(ending_score__isnull=True)
                | (Q(ending_score__gte=-1) & Q(ending_score__lte=1)),
                name="conversation_ending_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.interaction_id} ({len(self.turns)} turns)"

    def customer_turns(self) -> list[str]:
        return [t["text"] for t in self.turns if t.get("speaker") == self.Speaker.CUSTOMER]

    @property
    def trajectory(self) -> str:
        """ "negative → positive" once scored, else ""."""
        if self.opening_score is None or self.ending_score is None:
            return ""
        return f"{polarity(self.opening_score)} → {polarity(self.ending_score)}"


def polarity(score: float) -> str:
    band = settings.MEMORY_NEUTRAL_BAND
    return "positive" if score >= band else "negative" if score <= -band else "neutral"


class OutboundEmail(models.Model):
    """An email MemoryCRM sent to a customer, by its Message-ID, so that a reply can be linked
    to what it answers (customers.channels.threading.find_outbound).

    ``about`` is whatever the email is about (an intervention, a survey invitation, …), as a
    generic relation: customers cannot name the apps to its right. (Not to be confused with
    interventions.OutboundEmail, the at-most-once send log of intervention emails.)
    """

    class Kind(models.TextChoices):
        INTERVENTION = "intervention", "Intervention email"
        SURVEY_INVITATION = "survey_invitation", "Survey invitation"
        SURVEY_REMINDER = "survey_reminder", "Survey reminder"
        OTHER = "other", "Other"

    message_id = models.CharField(
        max_length=255, unique=True, help_text="With its <angle brackets>."
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="outbound_emails")
    interaction = models.ForeignKey(
        Interaction,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_emails",
        help_text="The interaction the email is about, if any.",
    )
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.OTHER)
    about_type = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["about_type", "about_id"], name="outbound_email_about")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.message_id} → {self.to}"

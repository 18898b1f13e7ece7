"""Email in by a provider's inbound webhook: Mailgun (a route's forward() to
/channels/inbound/mailgun/) and Postmark (the inbound webhook to /channels/inbound/postmark/).

django-anymail checks that the request comes from the provider (Mailgun: the HMAC-SHA256 of
timestamp + token with the webhook signing key; Postmark: HTTP basic auth, EMAIL_WEBHOOK_SECRET)
and reads the provider's payload; each message is then stored by the same
`ingest_email` as the IMAP poller's, with the raw MIME when the provider sends it (Mailgun's
body-mime, Postmark's RawEmail), so a redelivered webhook stores the message once. A provider
that is not configured is a 404; a bad signature a 400 (anymail's), and nothing is stored. The
views are csrf-exempt (anymail's dispatch): a provider has no CSRF token; nothing else is.

The body is read here (webhook_body), not by Django, whose DATA_UPLOAD_MAX_MEMORY_SIZE would
refuse a large email before the view runs, unrecorded. A message over EMAIL_IN_MAX_BYTES (the
IMAP poller's limit) is recorded as refused, from its header, once the request is proven to
come from the provider, and answered with the provider's "do not retry" status (Mailgun 406,
Postmark 403); any other refused message gets the same answer. docs/channels.md has the table.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from customers.channels import webhook_body
from customers.channels.inbound import IngestResult, ingest_email
from customers.channels.models import InboundEmail

logger = logging.getLogger(__name__)

# How long a Mailgun token stays used (Mailgun's signature covers its timestamp and token, not
# the message: a captured signature must not carry a second, forged message).
_TOKEN_DAYS = 30
# Room for a form's other fields (signature, addresses, headers as JSON) next to the message.
_FORM_SLACK = 1024 * 1024


class _PostTooLarge(Exception):
    """A post too large to read at all: answered 413, unread, recorded nowhere."""


@dataclass(frozen=True)
class _TooLarge:
    """A post refused for its size: the message's header (as much as was read) and why."""

    header: bytes
    size: int
    reason: str


class _Ingest:
    """Stores each inbound message with ingest_email instead of sending anymail's signal."""

    # The answer to a message refused for good (too large, unreadable): the provider does not
    # retry it (Mailgun: 406; Postmark: 403). A failure of ours is a 500: retried.
    refused_status = 406

    def read(self, request) -> _TooLarge | None:
        """Check the request comes from the provider (AnymailWebhookValidationFailure: 400)
        and read its body in bounded memory; a post too large to store is returned."""
        raise NotImplementedError

    def messages(self, request) -> list[tuple[bytes, int | None]]:
        """Each message posted, as ingest_email takes it: (raw MIME, None), or (its first
        bytes, its size) when it is over EMAIL_IN_MAX_BYTES and will be refused from them."""
        raise NotImplementedError

    def one_time_key(self, request) -> str | None:
        return None

    def post(self, request, *args, **kwargs):
        try:
            too_large = self.read(request)
        except MultiPartParserError as error:
            raise BadRequest(f"{self.esp_name} webhook: malformed form ({error})") from error
        except _PostTooLarge as error:
            logger.warning("%s webhook post refused unread: %s", self.esp_name, error)
            return HttpResponse(str(error), status=413, content_type="text/plain")
        key = self.one_time_key(request)
        if key is not None and not cache.add(key, True, timeout=_TOKEN_DAYS * 86400):
            raise AnymailWebhookValidationFailure(f"{self.esp_name} webhook token used before")
        source = f"webhook:{self.esp_name.lower()}"
        try:
            if too_large is not None:
                results = [
                    ingest_email(
                        too_large.header,
                        source=source,
                        size=too_large.size,
                        refused=too_large.reason,
                    )
                ]
            else:
                results = [
                    ingest_email(raw, source=source, size=size)
                    for raw, size in self.messages(request)
                ]
        except Exception:
            if key is not None:  # not stored: the provider's retry may use the token again
                cache.delete(key)
            raise
        return self.answer(results)

    def answer(self, results: list[IngestResult]) -> HttpResponse:
        refused = [r for r in results if r.kind == InboundEmail.Kind.REFUSED]
        if refused:  # recorded; the provider's log shows it was not taken, and why
            return HttpResponse(
                refused[0].reason, status=self.refused_status, content_type="text/plain"
            )
        return HttpResponse()


def _raw(raw: str) -> tuple[bytes, int | None]:
    """The raw MIME a provider posted as text; only its head when it is over the limit (it is
    refused from its header, and never copied whole)."""
    if len(raw) > settings.EMAIL_IN_MAX_BYTES:
        return raw[: webhook_body.HEAD].encode("utf-8", "surrogateescape"), len(raw)
    return raw.encode("utf-8", "surrogateescape"), None


def _header_lines(fields: list[tuple[str, str]]) -> bytes:
    """A message header made of what a provider's fields say (no line breaks smuggled in)."""
    lines = [f"{name}: {' '.join(str(value).split())}" for name, value in fields if value]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


class MailgunInbound(_Ingest, MailgunInboundWebhookView):
    refused_status = 406  # Mailgun: "rejected", not retried

    def read(self, request) -> _TooLarge | None:
        length = webhook_body.content_length(request)
        if length > settings.EMAIL_IN_WEBHOOK_MAX_BYTES:
            # Its signature is somewhere in the body: too much to read to find out whether
            # Mailgun sent it, so nothing is recorded (Mailgun's own limit is 25 MB).
            raise _PostTooLarge(f"{length:,} bytes: over EMAIL_IN_WEBHOOK_MAX_BYTES, not read")
        whole = length <= settings.EMAIL_IN_MAX_BYTES + _FORM_SLACK
        form = webhook_body.read_form(request, whole=whole)
        # What anymail reads (as DRF does, the parsed form is handed to the request).
        request.POST, request._files = form.post, form.files
        self.run_validators(request)  # the signature: nothing is recorded before it holds
        if whole:
            return None
        head = request.POST.get("body-mime")
        header = head.encode("utf-8", "surrogateescape") if head else self._parsed_header(request)
        cap = settings.EMAIL_IN_MAX_BYTES
        return _TooLarge(
            header,
            form.cut.get("body-mime", length),
            f"too large: Mailgun posted {length:,} bytes (the limit, EMAIL_IN_MAX_BYTES, is "
            f"{cap:,})",
        )

    @staticmethod
    def _parsed_header(request) -> bytes:
        """The header of a message Mailgun posted parsed (no body-mime)."""
        try:
            headers = [(str(n), str(v)) for n, v in json.loads(request.POST["message-headers"])]
        except (KeyError, TypeError, ValueError):
            headers = [
                ("From", request.POST.get("from", "")),
                ("Subject", request.POST.get("subject", "")),
                ("Message-ID", request.POST.get("Message-Id", "")),
            ]
        return _header_lines(headers)

    def one_time_key(self, request) -> str:
        token = request.POST["token"]  # checked by the signature
        return "anymail-mailgun-token:" + hashlib.sha256(token.encode()).hexdigest()

    def messages(self, request) -> list[tuple[bytes, int | None]]:
        raw = request.POST.get("body-mime")  # the route's URL ends in "mime"
        if raw:  # stored as sent (anymail would parse it whole first, for nothing)
            return [_raw(raw)]
        return [(event.message.as_bytes(), None) for event in self.parse_events(request)]


class PostmarkInbound(_Ingest, PostmarkInboundWebhookView):
    refused_status = 403  # Postmark stops retrying at once

    def read(self, request) -> _TooLarge | None:
        self.run_validators(request)  # basic auth, in the header: before the body is read
        length = webhook_body.content_length(request)
        cap = settings.EMAIL_IN_WEBHOOK_MAX_BYTES
        if length <= cap:
            # Read here, past DATA_UPLOAD_MAX_MEMORY_SIZE (bounded by EMAIL_IN_WEBHOOK_MAX_BYTES).
            request._body = webhook_body.read_body(request)
            return None
        head = request.read(webhook_body.HEAD)
        webhook_body.drain(request)
        fields = webhook_body.json_head(head)
        return _TooLarge(
            _header_lines(list(fields.items())),
            length,
            f"too large: Postmark posted {length:,} bytes (the limit, EMAIL_IN_WEBHOOK_MAX_BYTES,"
            f" is {cap:,})",
        )

    def messages(self, request) -> list[tuple[bytes, int | None]]:
        # Parsed once, here; anymail would parse the JSON, then the raw message, whole.
        try:
            esp_event = json.loads(request._body)
        except ValueError as error:
            raise BadRequest("Postmark webhook: the body is not JSON") from error
        request._body = b""  # not held twice
        raw = esp_event.get("RawEmail") if isinstance(esp_event, dict) else None
        if raw and isinstance(raw, str):  # "Include raw email content" is on
            return [_raw(raw)]
        return [(self.esp_to_anymail_event(esp_event).message.as_bytes(), None)]


def _configured(provider: str) -> bool:
    anymail = getattr(settings, "ANYMAIL", {})
    if provider == "mailgun":
        return bool(anymail.get("MAILGUN_WEBHOOK_SIGNING_KEY"))
    # Postmark signs nothing: without basic auth anyone could post customers' emails.
    return bool(anymail.get("WEBHOOK_SECRET"))


_VIEWS = {
    "mailgun": MailgunInbound.as_view(),
    "postmark": PostmarkInbound.as_view(),
}


@csrf_exempt  # as anymail's own views: a provider has no CSRF token
def inbound_webhook(request, provider: str):
    view = _VIEWS.get(provider)
    if view is None or not _configured(provider):
        raise Http404("No such inbound webhook.")
    return view(request)

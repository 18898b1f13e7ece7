"""Email in by a provider's inbound webhook: Mailgun (a route's forward() to
/channels/inbound/mailgun/) and Postmark (the inbound webhook to /channels/inbound/postmark/).

django-anymail checks that the request comes from the provider (Mailgun: the HMAC-SHA256 of
timestamp + token with the webhook signing key; Postmark: HTTP basic auth, EMAIL_WEBHOOK_SECRET)
and reads the provider's payload; each message is then stored by the same
`ingest_email` as the IMAP poller's, with the raw MIME when the provider sends it (Mailgun's
body-mime, Postmark's RawEmail), so a redelivered webhook stores the message once. A provider
that is not configured is a 404; a bad signature a 400 (anymail's), and nothing is stored. The
views are csrf-exempt (anymail's dispatch): a provider has no CSRF token; nothing else is.
"""

from __future__ import annotations

import hashlib

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from customers.channels.inbound import ingest_email

# How long a Mailgun token stays used (Mailgun's signature covers its timestamp and token, not
# the message: a captured signature must not carry a second, forged message).
_TOKEN_DAYS = 30


class _Ingest:
    """Stores each inbound message with ingest_email instead of sending anymail's signal."""

    def raw_mime(self, request, event) -> bytes:
        raise NotImplementedError

    def one_time_key(self, request) -> str | None:
        return None

    def post(self, request, *args, **kwargs):
        self.run_validators(request)  # AnymailWebhookValidationFailure → 400
        key = self.one_time_key(request)
        if key is not None and not cache.add(key, True, timeout=_TOKEN_DAYS * 86400):
            raise AnymailWebhookValidationFailure(f"{self.esp_name} webhook token used before")
        try:
            for event in self.parse_events(request):
                raw = self.raw_mime(request, event)
                ingest_email(raw, source=f"webhook:{self.esp_name.lower()}")
        except Exception:
            if key is not None:  # not stored: the provider's retry may use the token again
                cache.delete(key)
            raise
        return HttpResponse()


def _message_bytes(event) -> bytes:
    return event.message.as_bytes()


class MailgunInbound(_Ingest, MailgunInboundWebhookView):
    def one_time_key(self, request) -> str:
        token = request.POST["token"]  # checked by the signature
        return "anymail-mailgun-token:" + hashlib.sha256(token.encode()).hexdigest()

    def raw_mime(self, request, event) -> bytes:
        raw = request.POST.get("body-mime")  # the route's URL ends in "mime"
        return raw.encode("utf-8", "surrogateescape") if raw else _message_bytes(event)


class PostmarkInbound(_Ingest, PostmarkInboundWebhookView):
    def raw_mime(self, request, event) -> bytes:
        raw = event.esp_event.get("RawEmail")  # "Include raw email content" is on
        return raw.encode("utf-8", "surrogateescape") if raw else _message_bytes(event)


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

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

from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from customers.channels.inbound import ingest_email


class _Ingest:
    """Stores each inbound message with ingest_email instead of sending anymail's signal."""

    def raw_mime(self, request, event) -> bytes:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        self.run_validators(request)  # AnymailWebhookValidationFailure → 400
        for event in self.parse_events(request):
            ingest_email(self.raw_mime(request, event), source=f"webhook:{self.esp_name.lower()}")
        return HttpResponse()


def _message_bytes(event) -> bytes:
    return event.message.as_bytes()


class MailgunInbound(_Ingest, MailgunInboundWebhookView):
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

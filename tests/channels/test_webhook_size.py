"""Large posts to the provider inbound webhooks: a 30 MB message (over EMAIL_IN_MAX_BYTES, 25 MB)
is recorded as refused with its sender and size once the provider's signature or password
holds, and answered so the provider does not retry it (Mailgun 406, Postmark 403); a message
within the limit but over DATA_UPLOAD_MAX_MEMORY_SIZE is stored; nothing unauthenticated is
recorded; the request is read in bounded memory (tracemalloc)."""

from __future__ import annotations

import json
import os
import tracemalloc
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from customers.models import InboundEmail, Interaction
from tests.channels.mail import make_email
from tests.channels.test_webhooks import KEY, MAILGUN, POSTMARK, SECRET, _basic, mailgun_fields

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_message() -> bytes:
    """A 31 MB email: a short text and a 23 MB video attachment (base64 in the MIME)."""
    raw = make_email(
        subject="Video of the broken parcel",
        text="Here is the video.",
        message_id="<video-30mb@example.com>",
        attachments=[("parcel.mp4", os.urandom(23 * MB), "video/mp4")],
    )
    assert len(raw) > 30 * MB
    return raw


@pytest.fixture
def providers(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_SECRET": ""}
    settings.EMAIL_IN_MAX_BYTES = 25 * MB
    settings.EMAIL_IN_WEBHOOK_MAX_BYTES = 64 * MB
    return settings


@pytest.fixture
def postmark(providers):
    providers.ANYMAIL = {**providers.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    return providers


def _mailgun_multipart(raw: bytes, **fields) -> bytes:
    data = mailgun_fields(b"", **fields)
    # body-mime last (so the signature is met first) and first (Mailgun's order is its own)
    del data["body-mime"]
    return encode_multipart(BOUNDARY, {**data, "body-mime": raw.decode()})


def _post(client: Client, path: str, body: bytes, content_type: str, **headers):
    """The request, and the most memory the server side allocated on top of the body itself
    (the test client keeps its own copy of the body). A first request loads what every request
    needs (URLs, middleware, templates), which is no part of reading this one."""
    client.get(path)  # 405
    tracemalloc.start()
    try:
        response = client.generic("POST", path, body, content_type=content_type, **headers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return response, peak - len(body)


def test_a_30_mb_mailgun_message_is_refused_with_a_reason_and_not_retried(
    providers, customer, big_message
):
    body = _mailgun_multipart(big_message, token="f" * 50)
    response, extra = _post(Client(), MAILGUN, body, MULTIPART_CONTENT)
    assert response.status_code == 406  # Mailgun: rejected, not retried
    assert b"too large" in response.content
    row = InboundEmail.objects.get()
    assert row.kind == "refused" and "too large" in row.reason
    assert row.source == "webhook:mailgun" and row.size == len(big_message)
    assert row.from_address == "ada@example.com" and row.customer == customer
    assert row.subject == "Video of the broken parcel"
    assert row.message_key == "video-30mb@example.com"
    assert not Interaction.objects.exists()
    assert extra < 6 * MB, f"{extra / MB:.1f} MB held for a {len(body) / MB:.0f} MB post"


def test_a_redelivered_30_mb_mailgun_message_is_recorded_once(providers, customer, big_message):
    client = Client()
    for token in ("g" * 50, "h" * 50):
        body = _mailgun_multipart(big_message, token=token)
        assert _post(client, MAILGUN, body, MULTIPART_CONTENT)[0].status_code == 406
    assert InboundEmail.objects.count() == 1


def test_an_unsigned_30_mb_mailgun_post_records_nothing(providers, customer, big_message):
    body = _mailgun_multipart(big_message, key="not-the-key")
    response, extra = _post(Client(), MAILGUN, body, MULTIPART_CONTENT)
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()
    assert extra < 6 * MB


def test_a_replayed_signature_cannot_record_a_forged_refusal(providers, customer, big_message):
    client = Client()
    small = encode_multipart(BOUNDARY, mailgun_fields(make_email(), token="i" * 50))
    assert _post(client, MAILGUN, small, MULTIPART_CONTENT)[0].status_code == 200
    forged = _mailgun_multipart(big_message, token="i" * 50)
    assert _post(client, MAILGUN, forged, MULTIPART_CONTENT)[0].status_code == 400
    assert InboundEmail.objects.count() == 1


def test_a_mailgun_post_larger_than_any_provider_sends_is_not_read(providers, customer):
    providers.EMAIL_IN_WEBHOOK_MAX_BYTES = 1 * MB
    body = _mailgun_multipart(make_email(text="x" * (2 * MB)))
    response, _ = _post(Client(), MAILGUN, body, MULTIPART_CONTENT)
    assert response.status_code == 413  # no signature could be checked: nothing recorded
    assert not InboundEmail.objects.exists()


def test_a_message_within_the_limit_but_over_djangos_upload_limit_is_stored(providers, customer):
    providers.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    raw = make_email(
        text="The invoice is attached, it is wrong again.",
        attachments=[("invoice.pdf", os.urandom(2 * MB), "application/pdf")],
    )
    body = _mailgun_multipart(raw)
    response = Client().generic("POST", MAILGUN, body, content_type=MULTIPART_CONTENT)
    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert row.kind == "customer" and row.size == len(raw)
    assert row.interaction.body == "The invoice is attached, it is wrong again."
    assert [a["name"] for a in row.attachments] == ["invoice.pdf"]


def test_a_large_urlencoded_mailgun_post_is_stored(providers, customer):
    """Mailgun posts a form without attachments urlencoded."""
    providers.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    text = "Still waiting for the refund. " * 70_000  # 2 MB
    body = urlencode(mailgun_fields(make_email(text=text))).encode()
    response = Client().generic(
        "POST", MAILGUN, body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert InboundEmail.objects.get().interaction.body.startswith("Still waiting")


def test_a_30_mb_urlencoded_mailgun_post_is_refused_from_its_head(providers, customer, big_message):
    body = urlencode(mailgun_fields(big_message)).encode()
    response, extra = _post(Client(), MAILGUN, body, "application/x-www-form-urlencoded")
    assert response.status_code == 406
    row = InboundEmail.objects.get()
    assert row.kind == "refused" and row.from_address == "ada@example.com"
    assert extra < 6 * MB


def test_a_parsed_mailgun_post_with_a_large_attachment_is_stored(providers, customer):
    """Mailgun's fully parsed form (no body-mime): the attachment is a file part."""
    providers.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    fields = mailgun_fields(b"")
    del fields["body-mime"]
    headers = [["From", "Ada <ada@example.com>"], ["Subject", "Photos"], ["Message-Id", "<p1@x>"]]
    fields |= {
        "message-headers": json.dumps(headers),
        "body-plain": "Photos of the damage attached.",
        "attachment-count": "1",
    }
    data = encode_multipart(BOUNDARY, fields)
    part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment-1"; '
        f'filename="damage.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    end = f"--{BOUNDARY}--\r\n".encode()
    data = data.replace(end, part + os.urandom(3 * MB) + b"\r\n" + end)
    response = Client().generic("POST", MAILGUN, data, content_type=MULTIPART_CONTENT)
    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert row.kind == "customer" and row.message_key == "p1@x"
    # anymail rebuilds a parsed post's binary attachment unencoded, and the stdlib's line-end
    # handling moves a few bytes: Mailgun's raw-MIME route (URL ending in "mime") is exact.
    [(name, size)] = [(a["name"], a["size"]) for a in row.attachments]
    assert name == "damage.jpg" and abs(size - 3 * MB) < 1024


def _postmark_body(raw: bytes) -> bytes:
    """Postmark's inbound JSON: sender and subject first, then the bodies, attachments and
    (with "Include raw email content") the raw message."""
    return json.dumps(
        {
            "From": "ada@example.com",
            "FromFull": {"Email": "ada@example.com", "Name": "Ada Lovelace"},
            "Subject": "Video of the broken parcel",
            "MessageID": "pm-30mb",
            "Headers": [{"Name": "Message-ID", "Value": "<video-30mb@example.com>"}],
            "TextBody": "Here is the video.",
            "Attachments": [],
            "RawEmail": raw.decode(),
        }
    ).encode()


def test_a_30_mb_postmark_message_is_refused_with_a_reason_and_not_retried(
    postmark, customer, big_message
):
    body = _postmark_body(big_message)
    response, extra = _post(
        Client(), POSTMARK, body, "application/json", HTTP_AUTHORIZATION=_basic(SECRET)
    )
    assert response.status_code == 403  # Postmark stops retrying
    row = InboundEmail.objects.get()
    assert row.kind == "refused" and "EMAIL_IN_MAX_BYTES" in row.reason
    assert row.source == "webhook:postmark" and row.from_address == "ada@example.com"
    assert row.message_key == "video-30mb@example.com"
    # Read whole (under EMAIL_IN_WEBHOOK_MAX_BYTES) and parsed as JSON once: the body, its text
    # and the parsed RawEmail; the message itself is never parsed or copied whole.
    assert extra < 3.5 * len(body), f"{extra / MB:.0f} MB for a {len(body) / MB:.0f} MB post"


def test_a_postmark_post_over_the_webhook_limit_is_refused_from_its_first_bytes(
    postmark, customer, big_message
):
    postmark.EMAIL_IN_WEBHOOK_MAX_BYTES = 10 * MB
    body = _postmark_body(big_message)
    response, extra = _post(
        Client(), POSTMARK, body, "application/json", HTTP_AUTHORIZATION=_basic(SECRET)
    )
    assert response.status_code == 403
    row = InboundEmail.objects.get()
    assert row.kind == "refused" and "EMAIL_IN_WEBHOOK_MAX_BYTES" in row.reason
    assert row.size == len(body) and row.from_address == "ada@example.com"
    assert row.subject == "Video of the broken parcel"
    assert row.message_key == "video-30mb@example.com" and row.customer == customer
    assert extra < 6 * MB


def test_a_large_postmark_post_with_a_wrong_password_records_nothing(
    postmark, customer, big_message
):
    postmark.EMAIL_IN_WEBHOOK_MAX_BYTES = 10 * MB
    body = _postmark_body(big_message)
    response, extra = _post(
        Client(), POSTMARK, body, "application/json", HTTP_AUTHORIZATION=_basic("x:y")
    )
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()
    assert extra < 1 * MB  # not even read


def test_a_postmark_message_over_djangos_upload_limit_is_stored(postmark, customer):
    postmark.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    raw = make_email(
        text="Contract attached, please sign.",
        attachments=[("contract.pdf", os.urandom(2 * MB), "application/pdf")],
    )
    response = Client().post(
        POSTMARK,
        json.dumps({"RawEmail": raw.decode()}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(SECRET),
    )
    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert row.kind == "customer" and [a["name"] for a in row.attachments] == ["contract.pdf"]

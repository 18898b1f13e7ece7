"""The 30 MB posts of test_webhook_size.py over a real socket to a real gunicorn (one sync
worker, as the Procfile's `web`): each is recorded as refused and answered so the provider does
not retry, and the worker's peak resident memory (VmHWM) hardly moves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from customers.models import InboundEmail, Interaction
from tests import hosts
from tests.channels.mail import make_email
from tests.channels.test_webhook_size import (
    MB,
    _mailgun_multipart,
    _postmark_body,
    big_message,  # noqa: F401 (a fixture)
)
from tests.channels.test_webhooks import KEY, MAILGUN, POSTMARK, SECRET, _basic, mailgun_fields

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(tmp_path):
    process, url = hosts.start_gunicorn(
        tmp_path,
        {
            "MAILGUN_WEBHOOK_SIGNING_KEY": KEY,
            # Set, so Mailgun sends it too (in the route's URL), as docs/channels.md says.
            "EMAIL_WEBHOOK_SECRET": SECRET,
            # Over it: Postmark's 62 MB post (the message twice); under it: Mailgun's 31 MB.
            "EMAIL_IN_WEBHOOK_MAX_BYTES": str(40 * MB),
        },
        workers=1,
    )
    yield url
    process.stop()


def postmark_body(raw: bytes) -> bytes:
    """As Postmark posts it: the attachments in base64, and the raw message too."""
    attachment = raw[raw.index(b"Content-Disposition: attachment") :]
    content = attachment.split(b"\n\n", 1)[1].split(b"\n--", 1)[0].replace(b"\n", b"")
    attachments = [{"Name": "parcel.mp4", "ContentType": "video/mp4", "Content": content}]
    return _postmark_body(raw).replace(
        b'"Attachments": []',
        b'"Attachments": ' + json.dumps(attachments, default=bytes.decode).encode(),
    )


def peak_memory(pid: str) -> int:
    """The process's peak resident memory so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_30_mb_posts_to_gunicorn_are_recorded_and_refused_in_bounded_memory(
    web,
    customer,
    big_message,  # noqa: F811
):
    auth = {"Authorization": _basic(SECRET)}
    warm = httpx.post(
        f"{web}{MAILGUN}",
        content=encode_multipart(BOUNDARY, mailgun_fields(make_email(), token="w" * 50)),
        headers={"Content-Type": MULTIPART_CONTENT, **auth},
        timeout=60,
    )
    assert warm.status_code == 200
    pid = warm.headers["X-Served-By"]
    mailgun_body = _mailgun_multipart(big_message, token="x" * 50)
    postmark_post = postmark_body(big_message)
    assert len(mailgun_body) < 40 * MB < len(postmark_post)
    before = peak_memory(pid)

    mailgun = httpx.post(
        f"{web}{MAILGUN}",
        content=mailgun_body,
        headers={"Content-Type": MULTIPART_CONTENT, **auth},
        timeout=120,
    )
    postmark = httpx.post(
        f"{web}{POSTMARK}",
        content=postmark_post,
        headers={"Content-Type": "application/json", **auth},
        timeout=120,
    )
    grown = peak_memory(pid) - before
    print(f"\nworker peak memory grew {grown / MB:.1f} MB")  # docs/channels.md

    assert (mailgun.status_code, postmark.status_code) == (406, 403)
    assert "too large" in mailgun.text and "too large" in postmark.text
    assert {mailgun.headers["X-Served-By"], postmark.headers["X-Served-By"]} == {pid}
    refused = InboundEmail.objects.get(kind="refused")  # one message, delivered twice
    assert refused.source == "webhook:mailgun" and refused.customer == customer
    assert refused.message_key == "video-30mb@example.com"
    assert Interaction.objects.count() == 1  # the warm-up's
    assert grown < 16 * MB, f"the worker's peak memory grew {grown / MB:.1f} MB"

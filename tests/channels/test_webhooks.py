"""Provider inbound webhooks (django-anymail): a Mailgun route's forward() signed with the real
HMAC-SHA256 of the webhook signing key, and Postmark's inbound webhook behind basic auth, each
stored by ingest_email once; a wrong signature or password is a 400 and stores nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from customers.models import InboundEmail, Interaction, OutboundEmail
from tests.channels.mail import make_email

pytestmark = pytest.mark.django_db
KEY = "key-mailgun-signing-test"
SECRET = "postmark:correct horse battery"
MAILGUN = "/channels/inbound/mailgun/"
POSTMARK = "/channels/inbound/postmark/"


@pytest.fixture
def providers(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_SECRET": ""}
    return settings


def mailgun_fields(raw: bytes, *, key: str = KEY, token: str = "a" * 50) -> dict:
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "token": token,
        "timestamp": timestamp,
        "signature": signature.hexdigest(),
        "recipient": "support@memorycrm.test",
        "sender": "ada@example.com",
        "body-mime": raw.decode(),
    }


def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)  # as a provider posts: no CSRF token


def test_a_signed_mailgun_forward_is_stored_as_the_customers_email(providers, customer):
    raw = make_email(text="The parcel never came, please call me.")
    response = csrf_client().post(MAILGUN, mailgun_fields(raw))
    assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert row.source == "webhook:mailgun" and row.customer == customer
    assert row.interaction.body == "The parcel never came, please call me."


def test_a_redelivered_mailgun_webhook_stores_the_message_once(providers, customer):
    raw = make_email()
    client = csrf_client()
    assert client.post(MAILGUN, mailgun_fields(raw, token="b" * 50)).status_code == 200
    assert client.post(MAILGUN, mailgun_fields(raw, token="c" * 50)).status_code == 200
    assert InboundEmail.objects.count() == 1 and Interaction.objects.count() == 1


@pytest.mark.parametrize("key", ["key-of-someone-else", ""])
def test_a_wrong_mailgun_signature_is_refused_and_nothing_stored(providers, customer, key):
    fields = mailgun_fields(make_email(), key=key or "x")
    if not key:
        fields["signature"] = "0" * 64
    response = csrf_client().post(MAILGUN, fields)
    assert response.status_code == 400
    assert not InboundEmail.objects.exists() and not Interaction.objects.exists()


def test_a_mailgun_post_without_signature_fields_is_refused(providers, customer):
    fields = mailgun_fields(make_email())
    del fields["signature"]
    assert csrf_client().post(MAILGUN, fields).status_code == 400
    assert not InboundEmail.objects.exists()


def test_a_reply_by_webhook_is_linked_to_what_we_sent(providers, customer):
    email = OutboundEmail.objects.create(
        message_id="<thanks1@crm.example>", customer=customer, to=customer.email
    )
    raw = make_email(subject="Re: Thanks", headers={"In-Reply-To": "<thanks1@crm.example>"})
    assert csrf_client().post(MAILGUN, mailgun_fields(raw)).status_code == 200
    assert InboundEmail.objects.get().answers == email


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def test_postmark_with_basic_auth_is_stored_once(providers, customer):
    providers.ANYMAIL = {**providers.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    payload = json.dumps({"RawEmail": make_email().decode(), "MessageID": "pm-1"})
    client = csrf_client()
    for _ in range(2):  # Postmark retries until it gets a 200
        response = client.post(
            POSTMARK, payload, content_type="application/json", HTTP_AUTHORIZATION=_basic(SECRET)
        )
        assert response.status_code == 200
    row = InboundEmail.objects.get()
    assert row.source == "webhook:postmark" and row.interaction.customer == customer


def test_postmark_with_a_wrong_password_is_refused(providers, customer):
    providers.ANYMAIL = {**providers.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    payload = json.dumps({"RawEmail": make_email().decode()})
    response = csrf_client().post(
        POSTMARK, payload, content_type="application/json", HTTP_AUTHORIZATION=_basic("x:y")
    )
    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


def test_an_unconfigured_provider_is_not_found(settings, customer):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "", "WEBHOOK_SECRET": ""}
    payload = json.dumps({"RawEmail": make_email().decode()})
    client = csrf_client()
    # Postmark signs nothing: without a basic-auth secret its webhook does not exist.
    assert client.post(POSTMARK, payload, content_type="application/json").status_code == 404
    assert client.post(MAILGUN, mailgun_fields(make_email())).status_code == 404
    assert client.post("/channels/inbound/sendgrid/", {}).status_code == 404
    assert not InboundEmail.objects.exists()


def test_only_post_is_answered(providers):
    assert csrf_client().get(MAILGUN).status_code == 405


def test_with_a_webhook_secret_mailgun_must_send_it_too(providers, customer):
    providers.ANYMAIL = {**providers.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    client = csrf_client()
    assert client.post(MAILGUN, mailgun_fields(make_email())).status_code == 400
    assert not InboundEmail.objects.exists()
    response = client.post(MAILGUN, mailgun_fields(make_email()), HTTP_AUTHORIZATION=_basic(SECRET))
    assert response.status_code == 200 and InboundEmail.objects.count() == 1


def test_a_replayed_mailgun_signature_cannot_carry_another_message(providers, customer):
    """Mailgun signs its timestamp and token, not the message: each token is taken once."""
    client = csrf_client()
    fields = mailgun_fields(make_email(text="The real message."), token="d" * 50)
    assert client.post(MAILGUN, fields).status_code == 200
    forged = {**fields, "body-mime": make_email(text="Please refund me 5000 EUR.").decode()}
    assert client.post(MAILGUN, forged).status_code == 400
    assert [e.interaction.body for e in InboundEmail.objects.all()] == ["The real message."]


def test_a_token_is_free_again_when_the_message_could_not_be_stored(
    providers, customer, monkeypatch
):
    from customers.channels import webhooks

    def broken(raw, *, source):
        raise RuntimeError("database away")

    fields = mailgun_fields(make_email(), token="e" * 50)
    monkeypatch.setattr(webhooks, "ingest_email", broken)
    client = Client(raise_request_exception=False)
    assert client.post(MAILGUN, fields).status_code == 500  # Mailgun retries
    monkeypatch.undo()
    assert client.post(MAILGUN, fields).status_code == 200
    assert InboundEmail.objects.count() == 1

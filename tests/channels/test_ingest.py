"""ingest_email: one raw email in, recorded once, a customer's stored as a scored interaction."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from customers.channels.inbound import ingest_email
from customers.models import Customer, InboundEmail, Interaction
from customers.services import update_customer
from tests.channels.mail import bounce, make_email
from tests.channels.racing import second_waits_for_first
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
Kind = InboundEmail.Kind
SOURCE = "test"

REPLY = """Honestly this is the third time the parcel arrives broken. I want a refund now.

Best regards,
Ada
--
Ada Lovelace
Analytical Engines Ltd

On Mon, Dec 1, 2026 at 10:00 AM MemoryCRM Support <support@memorycrm.test> wrote:
> Thank you for your order! We are delighted to have you.
> Everything will be wonderful.
"""


def test_customer_email_becomes_an_inbound_email_interaction(customer):
    result = ingest_email(make_email(sender="Ada <ada@example.com>"), source=SOURCE)
    interaction = Interaction.objects.get()
    assert result.interaction_id == interaction.pk and result.kind == Kind.CUSTOMER
    assert (interaction.customer, interaction.channel, interaction.direction) == (
        customer,
        "email",
        "inbound",
    )
    assert interaction.subject == "My order"
    assert interaction.body == "The parcel arrived broken and nobody answers my calls."
    assert interaction.scored_at is None  # pending until the worker scores it


def test_customer_email_is_queued_for_scoring_on_commit(
    customer, django_capture_on_commit_callbacks
):
    from django_q.signing import SignedPackage

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_email(make_email(), source=SOURCE)
    tasks = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert any(
        task["func"] == "moments.sentiment.tasks.score_interactions"
        and task["args"][0] == [result.interaction_id]
        for task in tasks
    )


def test_only_what_the_customer_wrote_now_is_kept_for_scoring(customer):
    ingest_email(
        make_email(
            subject="Re: Thank you for your order!",
            text=REPLY,
            headers={"In-Reply-To": "<x@memorycrm.test>"},
        ),
        source=SOURCE,
    )
    interaction = Interaction.objects.get()
    assert interaction.body == (
        "Honestly this is the third time the parcel arrives broken. I want a refund now."
    )
    # The subject of a reply is ours ("Thank you…"), not the customer's words.
    assert interaction.subject == ""
    row = InboundEmail.objects.get()
    assert row.subject == "Re: Thank you for your order!" and row.in_reply_to == "x@memorycrm.test"


def test_sender_is_matched_to_a_customer_case_insensitively(customer):
    ingest_email(make_email(sender="ADA@Example.COM"), source=SOURCE)
    assert Interaction.objects.get().customer == customer
    assert Customer.objects.count() == 1


def test_unknown_sender_becomes_a_customer():
    ingest_email(make_email(sender="Grace Hopper <grace@navy.example>"), source=SOURCE)
    customer = Customer.objects.get()
    assert (customer.name, customer.email) == ("Grace Hopper", "grace@navy.example")
    assert Interaction.objects.get().customer == customer


def test_unknown_sender_is_recorded_not_stored_when_creation_is_off(settings):
    settings.EMAIL_IN_CREATE_CUSTOMERS = False
    result = ingest_email(make_email(sender="grace@navy.example"), source=SOURCE)
    assert result.kind == Kind.UNKNOWN_SENDER and result.interaction_id is None
    assert not Customer.objects.exists() and not Interaction.objects.exists()
    assert InboundEmail.objects.get().from_address == "grace@navy.example"


def test_one_interaction_per_message_id(customer):
    raw = make_email(message_id="<same@example.com>")
    first = ingest_email(raw, source=SOURCE)
    again = ingest_email(make_email(message_id="<same@example.com>", text="Other"), source=SOURCE)
    assert again.duplicate and again.interaction_id == first.interaction_id
    assert Interaction.objects.count() == 1 and InboundEmail.objects.count() == 1
    assert InboundEmail.objects.get().message_key == "same@example.com"


def test_message_without_message_id_gets_a_stable_key(customer):
    raw = make_email(message_id=None)
    first = ingest_email(raw, source=SOURCE)
    again = ingest_email(raw, source=SOURCE)
    assert again.duplicate and Interaction.objects.count() == 1
    assert InboundEmail.objects.get(pk=first.inbound_email_id).message_key.startswith("sha256:")


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: your survey", "Auto-Submitted: auto-replied"),
        ({}, "Out of Office: back on Monday", "out-of-office subject"),
        ({}, "Automatic reply: My order", "out-of-office subject"),
        ({"Precedence": "bulk"}, "Newsletter", "Precedence: bulk"),
        ({"X-Autoreply": "yes"}, "Hello", "X-Autoreply header"),
    ],
)
def test_auto_replies_are_recorded_never_stored_or_scored(customer, headers, subject, reason):
    result = ingest_email(
        make_email(subject=subject, text="I am out of the office, terrible week.", headers=headers),
        source=SOURCE,
    )
    assert (result.kind, result.reason, result.interaction_id) == (Kind.AUTO_REPLY, reason, None)
    assert not Interaction.objects.exists()
    assert InboundEmail.objects.get().customer == customer


def test_auto_submitted_no_is_a_person_writing(customer):
    result = ingest_email(make_email(headers={"Auto-Submitted": "no"}), source=SOURCE)
    assert result.kind == Kind.CUSTOMER and result.interaction_id


def test_bounce_marks_the_address_undeliverable(customer):
    result = ingest_email(bounce(failed="ADA@example.com"), source=SOURCE)
    assert result.kind == Kind.BOUNCE and result.interaction_id is None
    row = InboundEmail.objects.get()
    assert row.failed_recipients == ["ADA@example.com"] and row.customer == customer
    customer.refresh_from_db()
    assert customer.email_undeliverable_at is not None
    assert not Interaction.objects.exists()
    # Unknown addresses in a bounce create no customer.
    assert Customer.objects.count() == 1


def test_delayed_delivery_report_is_a_report_not_a_bounce(customer):
    result = ingest_email(
        bounce(failed="ada@example.com", action="delayed", status="4.4.1"), source=SOURCE
    )
    assert result.kind == Kind.REPORT
    customer.refresh_from_db()
    assert customer.email_undeliverable_at is None


def test_a_new_address_clears_undeliverable(customer):
    ingest_email(bounce(failed="ada@example.com"), source=SOURCE)
    customer.refresh_from_db()
    update_customer(customer=customer, email="ada@newmail.example")
    customer.refresh_from_db()
    assert customer.email_undeliverable_at is None


def test_surveys_skip_an_undeliverable_address(customer):
    from surveys.models import Invitation, Survey
    from surveys.services.invitations import create_invitation

    ingest_email(bounce(failed="ada@example.com"), source=SOURCE)
    customer.refresh_from_db()
    result = create_invitation(survey=Survey.objects.filter(active=True).first(), customer=customer)
    assert result.invitation.skipped_reason == Invitation.SkipReason.UNDELIVERABLE
    assert result.token is None


def test_html_only_email_with_tracking_pixels_is_read_as_text(customer):
    html = (
        "<html><head><style>p{color:red}</style><script>track()</script></head><body>"
        "<p>Your app <b>keeps crashing</b> when I pay.</p>"
        '<img src="https://t.example/open.gif?u=1" width="1" height="1" alt="">'
        '<img src="https://t.example/p.png" style="display:none">'
        "</body></html>"
    )
    ingest_email(make_email(text=None, html=html), source=SOURCE)
    body = Interaction.objects.get().body
    assert body == "Your app keeps crashing when I pay."


def test_plain_text_is_preferred_to_html(customer):
    ingest_email(make_email(text="Plain words.", html="<p>HTML words.</p>"), source=SOURCE)
    assert Interaction.objects.get().body == "Plain words."


@pytest.mark.parametrize(
    ("charset", "encoded"),
    [
        ("utf-8", "Très déçu, la commande est arrivée cassée.".encode("latin-1")),  # wrong label
        ("x-unknown-charset", "Très déçu, la commande est arrivée cassée.".encode()),
        ("iso-8859-1", "Très déçu, la commande est arrivée cassée.".encode("latin-1")),
    ],
)
def test_wrong_or_unknown_charset_is_decoded(customer, charset, encoded):
    raw = (
        b"From: ada@example.com\r\nSubject: Commande\r\nMessage-ID: <c@example.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=" + charset.encode() + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + encoded + b"\r\n"
    )
    ingest_email(raw, source=SOURCE)
    assert Interaction.objects.get().body == "Très déçu, la commande est arrivée cassée."


def test_attachments_are_listed_not_scored(customer):
    ingest_email(
        make_email(
            text="Here is the photo of the broken box.",
            attachments=[
                ("box.jpg", b"\xff\xd8" + b"x" * 5000, "image/jpeg"),
                ("invoice.pdf", b"%PDF" * 100, "application/pdf"),
            ],
        ),
        source=SOURCE,
    )
    row = InboundEmail.objects.get()
    assert row.attachments == [
        {"name": "box.jpg", "size": 5002, "content_type": "image/jpeg"},
        {"name": "invoice.pdf", "size": 400, "content_type": "application/pdf"},
    ]
    assert Interaction.objects.get().body == "Here is the photo of the broken box."


def test_forwarded_thread_keeps_only_the_forwarders_words(customer):
    text = (
        "This is unacceptable, see what your courier wrote to me.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Courier <noreply@courier.example>\n"
        "Date: Mon, Dec 1, 2026 at 9:00 AM\n"
        "Subject: Delivery\n"
        "To: <ada@example.com>\n\n"
        "We are happy to tell you your parcel was delivered! Have a great day!\n"
    )
    ingest_email(make_email(subject="Fwd: Delivery", text=text), source=SOURCE)
    assert Interaction.objects.get().body == (
        "This is unacceptable, see what your courier wrote to me."
    )


def test_forward_without_a_word_of_the_sender_is_recorded_without_interaction(customer):
    text = (
        "---------- Forwarded message ---------\nFrom: Courier <c@courier.example>\n"
        "Subject: Delivery\n\nYour parcel was delivered!\n"
    )
    result = ingest_email(make_email(subject="Fwd: Delivery", text=text), source=SOURCE)
    assert result.kind == Kind.NO_TEXT and "nothing written" in result.reason
    assert not Interaction.objects.exists()


def test_forwarded_message_attached_whole_is_listed(customer):
    inner = make_email(subject="Delivery", text="Delivered!")
    raw = make_email(text="Look at this.", attachments=[])
    from email import message_from_bytes, policy

    outer = message_from_bytes(raw, policy=policy.default)
    outer.add_attachment(message_from_bytes(inner, policy=policy.default))
    ingest_email(outer.as_bytes(), source=SOURCE)
    row = InboundEmail.objects.get()
    assert [a["name"] for a in row.attachments] == ["Delivery.eml"]
    assert Interaction.objects.get().body == "Look at this."


@pytest.mark.parametrize(
    "raw",
    [
        # A multipart without its boundary parameter, a part header cut in half, binary junk.
        b"From: ada@example.com\r\nSubject: broken\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--x\r\nContent-Type: text/plain\r\n\r\nThe product is awful.\r\n",
        b"From: ada@example.com\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/pl',
        b"\x00\xff\xfe garbage \x80\x81" * 50,
        b"",
        b"From: =?utf-8?q?broken =?=\r\nSubject: =?bogus?b?!!!?=\r\nDate: not a date\r\n"
        b"Message-ID: <<<>>>\r\n\r\nThe app is slow.\r\n",
    ],
    ids=["no-boundary", "cut-part-header", "binary-junk", "empty", "broken-headers"],
)
def test_malformed_mime_is_stored_or_refused_with_a_reason(customer, raw):
    result = ingest_email(raw, source=SOURCE)
    row = InboundEmail.objects.get(pk=result.inbound_email_id)
    assert row.kind in {Kind.CUSTOMER, Kind.REFUSED, Kind.NO_TEXT}
    if row.kind != Kind.CUSTOMER:
        assert row.reason
    # And it is recorded once: the same bytes again are a duplicate.
    assert ingest_email(raw, source=SOURCE).duplicate


def test_thirty_megabyte_message_is_refused_with_its_size(customer):
    raw = make_email(
        subject="Huge", attachments=[("video.mp4", b"\x00" * (30 * 1024 * 1024), "video/mp4")]
    )
    result = ingest_email(raw, source=SOURCE)
    row = InboundEmail.objects.get()
    assert result.kind == Kind.REFUSED and row.reason.startswith("too large: ")
    assert "EMAIL_IN_MAX_BYTES" in row.reason
    assert (row.subject, row.from_address, row.size) == ("Huge", "ada@example.com", len(raw))
    assert not Interaction.objects.exists()


def test_ten_thousand_recipients_are_not_parsed(customer):
    to = ", ".join(f"Person {i} <person{i}@example.com>" for i in range(10_000))
    raw = make_email(to="support@memorycrm.test").replace(
        b"To: support@memorycrm.test", b"To: " + to.encode()
    )
    start = time.perf_counter()
    result = ingest_email(raw, source=SOURCE)
    assert time.perf_counter() - start < 2  # the structured To: would take seconds
    assert result.kind == Kind.CUSTOMER and Interaction.objects.count() == 1


def test_a_body_longer_than_an_interaction_is_cut_not_refused(customer, settings):
    settings.INTERACTION_BODY_MAX_CHARS = 1000
    ingest_email(make_email(text="Slow. " * 1000), source=SOURCE)
    body = Interaction.objects.get().body
    assert len(body) <= 1000 and body.endswith("[… cut: the email is longer]")


def test_no_sender_address_is_refused_with_a_reason():
    result = ingest_email(make_email(sender="undisclosed-recipients:;"), source=SOURCE)
    assert result.kind == Kind.REFUSED and "sender" in result.reason
    assert not Customer.objects.exists()


def test_erasing_a_customer_erases_their_emails(customer):
    from customers.services import delete_customer

    ingest_email(make_email(), source=SOURCE)
    ingest_email(make_email(headers={"Auto-Submitted": "auto-replied"}), source=SOURCE)
    ingest_email(bounce(failed="ada@example.com"), source=SOURCE)
    delete_customer(customer=customer)
    assert not InboundEmail.objects.exists()


def test_existing_customer_record_is_not_changed_by_email(customer):
    CustomerFactory(email="other@example.com")
    ingest_email(make_email(sender="Someone Else <ada@example.com>"), source=SOURCE)
    customer.refresh_from_db()
    assert customer.name == "Ada Lovelace"


@pytest.mark.django_db(transaction=True)
def test_a_message_being_stored_elsewhere_waits_and_is_not_stored_twice():
    """A second delivery of a message another transaction is storing (uncommitted) waits
    for it, then finds the message taken and drops what it had prepared."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite locks the whole file)")
    CustomerFactory(email="ada@example.com")
    raw = make_email(message_id="<race@example.com>")
    outcome = second_waits_for_first(
        lambda: ingest_email(raw, source="first"), lambda: ingest_email(raw, source="second")
    )
    assert outcome["second"].duplicate
    assert outcome["second"].interaction_id == outcome["first"].interaction_id
    assert Interaction.objects.count() == 1 and InboundEmail.objects.count() == 1


def test_reply_headers_of_the_configured_languages_are_stripped(customer, settings):
    text = (
        "Das Paket ist wieder kaputt angekommen.\n\n"
        "Am Mo., 30. Nov. 2026 um 09:12 Uhr schrieb Support <support@memorycrm.test>:\n"
        "Vielen Dank für Ihre Bestellung! Wir freuen uns sehr.\n"
    )
    settings.EMAIL_IN_REPLY_LANGUAGES = ["en", "de"]
    ingest_email(make_email(text=text), source=SOURCE)
    assert Interaction.objects.get().body == "Das Paket ist wieder kaputt angekommen."


def test_received_emails_are_in_the_customer_export(customer):
    from customers.privacy import export_customer

    ingest_email(make_email(attachments=[("box.jpg", b"x" * 10, "image/jpeg")]), source=SOURCE)
    [email] = export_customer(customer=customer)["inbound_emails"]
    assert (email["kind"], email["from_address"], email["attachments"][0]["name"]) == (
        "customer",
        "ada@example.com",
        "box.jpg",
    )


def test_undecodable_header_bytes_and_nuls_are_cleaned(customer):
    raw = (
        b"From: ada@example.com\r\nSubject: Caf\xe9 \x00broken\r\nMessage-ID: <nul@example.com>\r\n"
        b"In-Reply-To: <a\x00b@example.com>\r\n\r\nThe coffee machine is broken.\r\n"
    )
    ingest_email(raw, source=SOURCE)
    row = InboundEmail.objects.get()
    assert "\x00" not in row.subject and row.subject.startswith("Caf")
    assert "\x00" not in row.in_reply_to
    assert Interaction.objects.get().body == "The coffee machine is broken."


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (
            make_email(
                sender="MAILER-DAEMON@mx.example.com",
                subject="Mail delivery failed: returning message to sender",
                text="A message that you sent could not be delivered.",
            ),
            Kind.BOUNCE,
        ),
        (
            make_email(
                sender="mailer-daemon@mx.example.com",
                subject="Failed",
                headers={"X-Failed-Recipients": "ada@example.com"},
            ),
            Kind.BOUNCE,
        ),
        (
            b"From: ada@example.com\r\nSubject: Read: your survey\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=disposition-notification; boundary="R"'
            b"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n--R--\r\n",
            Kind.REPORT,
        ),
    ],
    ids=["mailer-daemon", "x-failed-recipients", "read-receipt"],
)
def test_bounces_and_reports_without_a_delivery_status_part(customer, raw, kind):
    assert ingest_email(raw, source=SOURCE).kind == kind
    assert not Interaction.objects.exists()


def test_date_in_the_future_is_replaced_by_now(customer):
    raw = make_email().replace(b"Date: ", b"Date: Mon, 1 Jan 2085 10:00:00 +0000\r\nX-Old-Date: ")
    ingest_email(raw, source=SOURCE)
    assert abs((Interaction.objects.get().occurred_at - timezone.now()).total_seconds()) < 60


def test_date_header_dates_the_interaction(customer):
    raw = make_email().replace(b"Date: ", b"Date: Tue, 1 Dec 2026 08:30:00 +0100\r\nX-Old-Date: ")
    ingest_email(raw, source=SOURCE)
    assert Interaction.objects.get().occurred_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("message_id", ["<" + "x" * 300 + "@example.com>", "<has space@x.com>"])
def test_absurd_message_ids_are_replaced_by_a_hash(customer, message_id):
    raw = b"From: ada@example.com\r\nMessage-ID: " + message_id.encode() + b"\r\n\r\nHello.\r\n"
    ingest_email(raw, source=SOURCE)
    assert InboundEmail.objects.get().message_key.startswith("sha256:")


def test_a_bounce_after_the_invitation_stops_its_email(customer, mailoutbox):
    from surveys.models import Invitation, Survey
    from surveys.services import send_invitation_email
    from surveys.services.invitations import create_invitation

    survey = Survey.objects.filter(active=True).first()
    invitation = create_invitation(survey=survey, customer=customer).invitation  # queued
    ingest_email(bounce(failed="ada@example.com"), source=SOURCE)
    assert send_invitation_email(invitation_id=invitation.pk) == "skipped"
    invitation.refresh_from_db()
    assert invitation.skipped_reason == Invitation.SkipReason.UNDELIVERABLE
    assert mailoutbox == []


def test_erasing_a_customer_erases_emails_from_their_address_before_they_were_one(settings):
    from customers.services import create_customer, delete_customer

    settings.EMAIL_IN_CREATE_CUSTOMERS = False
    ingest_email(make_email(sender="grace@navy.example"), source=SOURCE)
    grace = create_customer(name="Grace", email="Grace@Navy.example")
    delete_customer(customer=grace)
    assert not InboundEmail.objects.exists()

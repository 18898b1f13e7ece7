"""Raw emails for the email-in tests, built as mail clients and servers write them."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone


def make_email(
    *,
    sender: str = "Ada Lovelace <ada@example.com>",
    to: str = "support@memorycrm.test",
    subject: str = "My order",
    text: str | None = "The parcel arrived broken and nobody answers my calls.",
    html: str | None = None,
    message_id: str | None = "",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    if message_id is not None:
        message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, data, content_type in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def bounce(*, failed: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    """An RFC 3464 delivery status notification, as Postfix sends it."""
    return (
        "From: MAILER-DAEMON@mx.memorycrm.test (Mail Delivery System)\r\n"
        "To: support@memorycrm.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{make_msgid()[1:-1]}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.memorycrm.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "Subject: What stood out?\r\n"
        "--BOUND--\r\n"
    ).encode()

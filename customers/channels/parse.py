"""Reading one raw email (RFC 5322 bytes) into what MemoryCRM keeps of it, with libraries:

- the standard `email` package with `policy.default` (MIME, encoded words, charsets, defects);
- HTML parts to text with inscriptis (layout-aware, drops scripts, styles and images, so
  tracking pixels leave nothing behind);
- quoted history and signatures stripped with mail-parser-reply, so sentiment reads only what
  the sender wrote now;
- auto-replies (RFC 3834 `Auto-Submitted`, `Precedence: bulk`, out-of-office markers),
  delivery reports and bounces (RFC 3464 `multipart/report`) recognised, never scored.

`parse_email` never trusts the message: a malformed header or part becomes a defect or an
empty field, not an exception; the caller refuses (with the reason) only what cannot be read
at all. Headers that are not needed are not parsed: structured parsing of a 10,000-address
`To:` takes seconds, so recipients are never read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

import inscriptis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from mailparser_reply import EmailReplyParser

CUSTOMER = "customer"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
REPORT = "report"

# Longer HTML is cut before conversion (the text that counts is at the top; a huge newsletter
# must not hold a worker).
HTML_MAX_CHARS = 2_000_000
MESSAGE_KEY_MAX = 255
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse")
# Subjects mail clients and servers give their automatic replies (when they set no header).
_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|auto:|autoreply|"
    r"abwesenheitsnotiz|réponse automatique|respuesta automática|risposta automatica)",
    re.IGNORECASE,
)
_DAEMONS = {"mailer-daemon", "postmaster"}
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered|delivery (status notification|failure|has failed)|"
    r"returned mail|failure notice|mail delivery failed)",
    re.IGNORECASE,
)
# What mail-parser-reply leaves of a forward's header line at the end of the reply.
_FORWARD_MARKER = re.compile(
    r"\n?\s*(-{2,}\s*(forwarded message|original message)\s*-{2,}|begin forwarded message:)\s*$",
    re.IGNORECASE,
)


class _ParsedOnce(policy.EmailPolicy):
    """`policy.default`, with each header value parsed once. The standard library parses a
    header again on every access, and reading a message's body takes its `Content-Type` many
    times (eight for a plain email, while parsing and reading it; about thirty with an
    attachment), each a full RFC 5322/2231 parse. A parsed header never changes, so the
    same name and value give the same object (values too long to be worth keeping are parsed
    as before)."""

    def header_fetch_parse(self, name: str, value: str) -> BaseHeader:
        if hasattr(value, "name") or len(value) > _CACHED_HEADER_MAX:
            return policy.default.header_fetch_parse(name, value)
        return _parsed_header(name, value)


_CACHED_HEADER_MAX = 1000


@functools.lru_cache(maxsize=512)
def _parsed_header(name: str, value: str) -> BaseHeader:
    return policy.default.header_fetch_parse(name, value)


POLICY = _ParsedOnce()


@dataclass
class ParsedEmail:
    message_key: str
    from_address: str = ""
    from_name: str = ""
    subject: str = ""
    sent_at: datetime | None = None
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    text: str = ""  # the whole body as text (HTML converted)
    new_text: str = ""  # what the sender wrote now: no quoted history, no signature
    attachments: list[dict] = field(default_factory=list)
    kind: str = CUSTOMER
    reason: str = ""
    failed_recipients: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return bool(self.in_reply_to or self.references) or bool(
            re.match(r"^\s*(re|aw|sv|antw|réf|fwd?|wg|tr)\s*:", self.subject, re.IGNORECASE)
        )


def parse_email(raw: bytes) -> ParsedEmail:
    message = BytesParser(policy=POLICY).parsebytes(raw)
    parsed = ParsedEmail(message_key=message_key(message, raw))
    parsed.from_name, parsed.from_address = _sender(message)
    parsed.subject = _header(message, "Subject")
    parsed.sent_at = _date(message)
    parsed.in_reply_to = _strip_id(_raw(message, "In-Reply-To"))
    parsed.references = [_strip_id(ref) for ref in _raw(message, "References").split()][:100]
    body_parts = _body_parts(message)
    parsed.text = _body_text(body_parts)
    parsed.new_text = latest_reply(parsed.text)
    parsed.attachments = _attachments(message, body_parts)
    parsed.defects = sorted({type(d).__name__ for d in _all_defects(message)})
    parsed.kind, parsed.reason, parsed.failed_recipients = _classify(message, parsed)
    return parsed


def header_summary(raw_header: bytes) -> ParsedEmail:
    """What can be said of a message from its header alone (one refused for its size)."""
    message = BytesParser(policy=POLICY).parsebytes(raw_header, headersonly=True)
    parsed = ParsedEmail(message_key=message_key(message, raw_header))
    parsed.from_name, parsed.from_address = _sender(message)
    parsed.subject = _header(message, "Subject")
    parsed.sent_at = _date(message)
    return parsed


def content_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def message_key(message: Message, raw: bytes) -> str:
    """The Message-ID without its <>; without one (or an absurd one), a hash of the message,
    the same each time the same message is fetched or delivered again."""
    message_id = _strip_id(_raw(message, "Message-ID"))
    if message_id and len(message_id) <= MESSAGE_KEY_MAX and " " not in message_id:
        return message_id
    return content_hash(raw)


def latest_reply(text: str) -> str:
    """What the sender wrote now: quoted history and signature removed (mail-parser-reply)."""
    if not text.strip():
        return ""
    languages = [code for code in settings.EMAIL_IN_REPLY_LANGUAGES if code]
    replies = EmailReplyParser(languages=languages or ["en"]).read(text=text).replies
    # The first reply's body: without its quoted headers, signature and disclaimers.
    reply = replies[0].body if replies else ""
    reply = _FORWARD_MARKER.sub("", reply)
    # A reply quoted with ">" that the parser kept (no "On … wrote:" line above it).
    lines = [line for line in reply.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


# --- Headers ------------------------------------------------------------------------------


def _header(message: Message, name: str) -> str:
    """A header decoded (RFC 2047 encoded words) as text, whitespace collapsed; "" when
    missing or unreadable. Each call parses the header: for the few that need decoding."""
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot even represent
        return _raw(message, name)
    if value is None:
        return ""
    return _clean(" ".join(str(value).split()))


def _raw(message: Message, name: str) -> str:
    """A header as it was sent, unfolded, without parsing it (ids, flags, addresses of a
    bounce: ASCII by their definition); "" when missing."""
    wanted = name.lower()
    for header, value in message.raw_items():
        if header.lower() == wanted:
            return _clean(" ".join(str(value).split()))
    return ""


def _clean(text: str) -> str:
    """Text the database takes: undecodable bytes (kept by the parser as surrogates) become
    U+FFFD, NULs go."""
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\x00", "")


def _strip_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _sender(message: Message) -> tuple[str, str]:
    """(display name, address) of From; the address is "" unless it is a valid one."""
    name, address = "", ""
    with contextlib.suppress(Exception):  # a From the header parser cannot represent
        addresses = getattr(message.get("From"), "addresses", ())
        if addresses:
            name, address = addresses[0].display_name, addresses[0].addr_spec
    if not address:
        name, address = parseaddr(_raw(message, "From"))
    name, address = _clean(name.strip()), address.strip()
    try:
        validate_email(address)
    except ValidationError:
        return name, ""
    return name, address


def _date(message: Message) -> datetime | None:
    try:
        value = parsedate_to_datetime(_raw(message, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    if value is None or value.tzinfo is None:
        return None  # a date without a zone says nothing reliable
    return value


# --- Body ---------------------------------------------------------------------------------


def _body_parts(message: EmailMessage) -> list[EmailMessage]:
    """The part holding the text: plain text preferred, else HTML."""
    if not message.is_multipart():  # most mail: one part, no need to search
        content_type = message.get_content_type()
        return [message] if content_type in ("text/plain", "text/html") else []
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    return [part] if part is not None else []


def _body_text(parts: list[EmailMessage]) -> str:
    texts = []
    for part in parts:
        text = _decoded_text(part)
        if part.get_content_subtype() == "html":
            text = inscriptis.get_text(text[:HTML_MAX_CHARS])
        texts.append(text)
    text = "\n".join(texts).replace("\r\n", "\n").replace("\x00", "")
    # inscriptis keeps table layout as runs of spaces: fine for reading, noise for the model.
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()


def _decoded_text(part: EmailMessage) -> str:
    """The text of a part in its declared charset; when that charset is unknown or wrong
    (bytes it cannot decode), UTF-8, then Windows-1252 (what mislabelled mail mostly is)."""
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        payload = b""
    if not payload:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "us-ascii"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", errors="replace")


def _attachments(message: EmailMessage, body_parts: list[EmailMessage]) -> list[dict]:
    """Name, size and type of every part that is not the text: listed, never read or scored.
    A forwarded message attached whole counts as one attachment."""
    found: list[dict] = []

    def visit(part: EmailMessage) -> None:
        content_type = part.get_content_type()
        if any(part is body for body in body_parts):
            return
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else None
            subject = _header(inner, "Subject") if inner is not None else ""
            size = len(inner.as_bytes()) if inner is not None else 0
            found.append(_attachment(part, f"{subject or 'message'}.eml", size))
            return
        if part.is_multipart():
            for sub in part.iter_parts():
                visit(sub)
            return
        if content_type == "message/delivery-status":
            return
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
        inline_text = part.get_content_maintype() == "text" and not filename
        if inline_text and part.get_content_disposition() != "attachment":
            return  # the other alternative of the body (the HTML of a plain-text body)
        try:
            size = len(part.get_payload(decode=True) or b"")
        except Exception:
            size = 0
        found.append(_attachment(part, filename or f"unnamed.{part.get_content_subtype()}", size))

    visit(message)
    return found[:200]


def _attachment(part: EmailMessage, name: str, size: int) -> dict:
    return {
        "name": _clean(" ".join(name.split()))[:255],
        "size": size,
        "content_type": part.get_content_type(),
    }


def _all_defects(message: Message) -> list:
    defects = list(message.defects)
    if message.is_multipart():
        for part in message.walk():
            if part is not message:
                defects.extend(part.defects)
    return defects


# --- Auto-replies, reports, bounces ----------------------------------------------------------


def _classify(message: EmailMessage, parsed: ParsedEmail) -> tuple[str, str, list[str]]:
    """(kind, reason, failed recipients)."""
    content_type = message.get_content_type() if message.is_multipart() else ""
    report_type = ""
    if content_type == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
    local_part = parsed.from_address.split("@", 1)[0].lower()
    failed = _failed_recipients(message)
    if content_type == "multipart/report" and report_type == "delivery-status":
        if failed:
            return BOUNCE, "delivery status report: delivery failed", failed
        return REPORT, "delivery status report (delayed or delivered)", []
    if content_type == "multipart/report":
        return REPORT, f"{report_type or 'unknown'} report", []
    if failed:
        return BOUNCE, "X-Failed-Recipients", failed
    if local_part in _DAEMONS and _BOUNCE_SUBJECT.search(parsed.subject):
        return BOUNCE, f"bounce from {local_part}", []
    auto_submitted = _raw(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return AUTO_REPLY, f"Auto-Submitted: {auto_submitted}", []
    for name in _AUTO_HEADERS:
        if _raw(message, name):
            return AUTO_REPLY, f"{name} header", []
    precedence = _raw(message, "Precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        return AUTO_REPLY, f"Precedence: {precedence}", []
    if _AUTO_SUBJECT.search(parsed.subject):
        return AUTO_REPLY, "out-of-office subject", []
    return CUSTOMER, "", []


def _failed_recipients(message: EmailMessage) -> list[str]:
    """Addresses a bounce says failed: X-Failed-Recipients (Exim), and the per-recipient
    blocks of an RFC 3464 delivery-status part with `Action: failed`."""
    found = []
    for address in _raw(message, "X-Failed-Recipients").split(","):
        found.append(address.strip())
    for part in message.walk() if message.is_multipart() else ():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else ():
            if _raw(block, "Action").lower() != "failed":
                continue
            recipient = _raw(block, "Final-Recipient") or _raw(block, "Original-Recipient")
            found.append(recipient.split(";", 1)[-1].strip())
    valid = []
    for address in found:
        address = address.strip("<> ")
        try:
            validate_email(address)
        except ValidationError:
            continue
        if address.lower() not in {a.lower() for a in valid}:
            valid.append(address)
    return valid[:100]

"""Reading a provider's inbound post in bounded memory, whatever its size.

Django refuses a form field or a body over DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB) before a view
runs: a large email posted by a provider would be answered 400 and recorded nowhere. The
inbound webhooks read their body here instead, in chunks:

- `read_form` (Mailgun's form post, multipart or urlencoded): with ``whole`` every field is kept
  (a file part is spooled to disk, as Django's upload handlers do); without it only the small
  fields (Mailgun's signature, token, timestamp, sender, subject: at most `SMALL_FIELD` bytes
  each) and the first `HEAD` bytes of each larger one are kept, and the rest is read and
  dropped, so the signature can still be checked and the refusal recorded with its sender;
- `read_body` (Postmark's JSON): the whole body, up to a limit the caller has checked;
- `json_head` (Postmark's JSON too large to read whole): what its first bytes say of the sender.

The multipart parts are split by Django's own multipart `Parser` (the one MultiPartParser
uses: it streams, and it has handled hostile input for years), without MultiPartParser's
DATA_UPLOAD_MAX_MEMORY_SIZE, which would refuse the message itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import (
    FIELD,
    FILE,
    ChunkIter,
    LazyStream,
    MultiPartParserError,
    Parser,
)
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters

CHUNK = 64 * 1024
SMALL_FIELD = 64 * 1024  # a signature, a token, an address, a subject, the headers as JSON
HEAD = 256 * 1024  # enough of a message for its header (the IMAP poller reads as much)


def content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def chunks(request: HttpRequest) -> Iterator[bytes]:
    """The body, CHUNK bytes at a time (Django's stream stops at its Content-Length)."""
    while chunk := request.read(CHUNK):
        yield chunk


@dataclass
class Form:
    post: QueryDict
    files: MultiValueDict = field(default_factory=MultiValueDict)
    # Full sizes of the fields cut to their head (whole=False), by name.
    cut: dict[str, int] = field(default_factory=dict)


def read_form(request: HttpRequest, *, whole: bool) -> Form:
    """The fields and files of a form post; see the module docstring for ``whole``.
    Raises MultiPartParserError (or TooManyFieldsSent) for a malformed form."""
    if request.content_type == "multipart/form-data":
        return _multipart(request, whole=whole)
    form = Form(QueryDict(mutable=True))
    for name, value, size in _urlencoded(chunks(request), whole=whole):
        form.post.appendlist(name, value)
        if size is not None:
            form.cut[name] = size
    return form


def _keep(parts: Iterator[bytes], *, whole: bool) -> tuple[bytes, int | None]:
    """A field's bytes (all, or its head when it is large and not ``whole``) and, when cut,
    its full size."""
    kept, size = [], 0
    for part in parts:
        if whole or size < HEAD:
            kept.append(part if whole else part[: HEAD - size])
        size += len(part)
    data = b"".join(kept)
    cut = not whole and size > SMALL_FIELD
    return (data[:HEAD] if cut else data), (size if cut else None)


def _multipart(request: HttpRequest, *, whole: bool) -> Form:
    _, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultiPartParserError("no boundary in the multipart Content-Type")
    stream = LazyStream(ChunkIter(request, CHUNK))
    form, count = Form(QueryDict(mutable=True)), 0
    for kind, meta, part in Parser(stream, boundary.encode("ascii")):
        if kind not in (FIELD, FILE):
            continue
        count += 1
        _check_count(count)
        try:
            disposition = meta["content-disposition"][1]
            name = disposition["name"].decode("utf-8", "replace").strip()
        except (KeyError, IndexError, AttributeError):
            continue
        # Only the last path component, as Django's own parser keeps.
        filename = disposition.get("filename", b"").decode("utf-8", "replace")
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if kind == FILE and filename and whole:
            form.files.appendlist(name, _spool(part, filename, meta))
            continue
        data, cut = _keep(iter(part), whole=whole)
        if kind == FILE:  # not kept: a file says nothing of the sender
            continue
        form.post.appendlist(name, data.decode("utf-8", "replace"))
        if cut is not None:
            form.cut[name] = cut
    for _ in stream:  # whatever follows the last boundary, as Django's parser reads it
        pass
    return form


def _spool(part: LazyStream, filename: str, meta: dict) -> TemporaryUploadedFile:
    content_type, extra = meta.get("content-type", ("application/octet-stream", {}))
    charset = extra.get("charset", b"").decode("ascii", "replace") or None
    upload = TemporaryUploadedFile(filename, content_type.strip(), 0, charset)
    for chunk in part:
        upload.write(chunk)
    upload.size = upload.tell()
    upload.seek(0)
    return upload


def _check_count(count: int) -> None:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and count > limit:
        raise TooManyFieldsSent("more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS")


def _urlencoded(body: Iterator[bytes], *, whole: bool) -> Iterator[tuple[str, str, int | None]]:
    """(name, value, full size if cut) of each name=value pair, read a chunk at a time."""
    pair: list[bytes] = []
    size, count = 0, 0

    def finish() -> tuple[str, str, int | None] | None:
        raw = b"".join(pair)
        if not raw:
            return None
        name, _, value = raw.partition(b"=")
        cut = None if whole or size <= SMALL_FIELD else size
        return (
            unquote_plus(name.decode("ascii", "replace")),
            unquote_plus(value.decode("ascii", "replace"), errors="replace"),
            cut,
        )

    for chunk in body:
        pieces = chunk.split(b"&")
        for i, piece in enumerate(pieces):
            if i:  # an "&": the pair before it is whole
                done = finish()
                if done is not None:
                    count += 1
                    _check_count(count)
                    yield done
                pair, size = [], 0
            if whole or size < HEAD:
                pair.append(piece if whole else piece[: HEAD - size])
            size += len(piece)
    done = finish()
    if done is not None:
        _check_count(count + 1)
        yield done


def read_body(request: HttpRequest) -> bytes:
    """The whole body (its size checked by the caller), bypassing DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return b"".join(chunks(request))


def drain(request: HttpRequest) -> None:
    """Read the rest of the body and drop it (so the provider's client reads our answer)."""
    for _ in chunks(request):
        pass


_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'
_JSON_FIELDS = {
    name: re.compile(rf'"{name}"\s*:\s*{_JSON_STRING}') for name in ("From", "Subject", "Date")
}
_JSON_MESSAGE_ID = re.compile(
    rf'"Name"\s*:\s*"Message-ID"\s*,\s*"Value"\s*:\s*{_JSON_STRING}', re.IGNORECASE
)


def json_head(head: bytes) -> dict[str, str]:
    """The sender, subject, date and Message-ID a Postmark post names in its first bytes (they
    come before the bodies and attachments), as header values; what is not there is left out."""
    text = head.decode("utf-8", "replace")
    found = {}
    for name, pattern in [*_JSON_FIELDS.items(), ("Message-ID", _JSON_MESSAGE_ID)]:
        match = pattern.search(text)
        if match:
            try:
                found[name] = json.loads(f'"{match.group(1)}"')
            except ValueError:
                continue
    return found

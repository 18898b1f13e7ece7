"""Survey link tokens: 256 random bits from `secrets`; only their SHA-256 is stored.

A plain (unsalted) SHA-256 is enough here, unlike for passwords: the token is 256 bits of
randomness, so there is nothing to guess or precompute, and a fast hash lets the public page
find the invitation with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # 256 bits; the issue asks for >= 128
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-]; anything else cannot be one of ours.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> tuple[str, str]:
    """A fresh (raw token, hash) pair. Give the raw token out once; store only the hash."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def looks_like_token(raw: str) -> bool:
    return bool(_TOKEN_RE.match(raw or ""))

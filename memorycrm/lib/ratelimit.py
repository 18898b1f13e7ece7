"""Fixed-window counters in the cache, for rate limits (login attempts, public survey pages).

The default cache is per process; set CACHE_URL (e.g. redis://127.0.0.1:6379/1) so several web
processes share one budget per client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost of them saw, read from TRUSTED_PROXY_HEADER.

    Each trusted proxy appends the address it received the request from, so the client's own
    address is the TRUSTED_PROXY_COUNT-th entry from the right; anything left of it was written
    by the client and is ignored. A header shorter than that or not an address means the
    request did not come through every proxy: REMOTE_ADDR then.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    meta_key = "HTTP_" + settings.TRUSTED_PROXY_HEADER.upper().replace("-", "_")
    entries = [e.strip() for e in request.META.get(meta_key, "").split(",") if e.strip()]
    if len(entries) < count:
        return remote
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return remote


def hit(key: str, *, window_seconds: int) -> int:
    """Count one event under `key` in the current window; return the count so far."""
    cache.add(key, 0, timeout=window_seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired or evicted between add and incr
        cache.set(key, 1, timeout=window_seconds)
        return 1


def count(key: str) -> int:
    return cache.get(key, 0)


def reset(key: str) -> None:
    cache.delete(key)

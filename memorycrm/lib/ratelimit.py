"""Fixed-window counters in the cache, for rate limits (login attempts, public survey pages).

The default cache is per process; set CACHE_URL (e.g. redis://127.0.0.1:6379/1) so several web
processes share one budget per client.
"""

from __future__ import annotations

from django.core.cache import cache


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "")


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

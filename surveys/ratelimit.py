"""The rate limit of the public survey pages: a fixed window per client IP, in the cache.

The default cache is per process (LocMemCache), so with several web processes each has its own
budget; set CACHE_URL in production for one budget per IP. Behind a proxy REMOTE_ADDR is the
proxy's address unless the proxy rewrites it (gunicorn --forwarded-allow-ips with a proxy that
sets X-Forwarded-For, or a middleware that does).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest

from memorycrm.lib import ratelimit


def too_many(request: HttpRequest, *, scope: str = "survey") -> bool:
    """Count this request; True once the IP used up its budget for the current minute."""
    limit = settings.SURVEY_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return False
    window = int(time.time() // 60)
    key = f"ratelimit:{scope}:{ratelimit.client_ip(request)}:{window}"
    return ratelimit.hit(key, window_seconds=120) > limit

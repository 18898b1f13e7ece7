"""Start-up checks (Django's system checks: run by `migrate`, `runserver`, `qcluster` and
`check`) for the services the settings name, so a deployment that cannot reach them stops
with a clear error instead of failing its first request or task."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from memorycrm.ops import redis_ping


def _shown(url: str) -> str:
    """The URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


@checks.register("services")
def redis_reachable(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in ("Q_REDIS_URL", "CACHE_URL"):
        url = getattr(settings, name)
        if not url:
            continue
        try:
            redis_ping(url)
        except Exception as exc:  # any failure to reach it is the same error to an operator
            errors.append(
                checks.Error(
                    f"{name}: cannot reach Redis at {_shown(url)} ({exc.__class__.__name__}: "
                    f"{exc}).",
                    hint=f"Start Redis there, or unset {name} to use the embedded default.",
                    id="memorycrm.E001",
                )
            )
    return errors


@checks.register(checks.Tags.caches, deploy=True)
def shared_cache_for_many_processes(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.WEB_CONCURRENCY > 1 and backend.endswith("LocMemCache"):
        return [
            checks.Warning(
                f"WEB_CONCURRENCY={settings.WEB_CONCURRENCY} web processes with a per-process "
                "cache: rate limits (survey pages) count in each process apart.",
                hint="Set CACHE_URL=redis://… (shared by every web process).",
                id="memorycrm.W001",
            )
        ]
    return []

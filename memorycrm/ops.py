"""What operators and load balancers ask of a running MemoryCRM.

- ``/health/``: is this process able to serve? The database, the task broker and the cache,
  each "ok" or "fail", and the sentiment model's status (information only: without a model the
  app still works and interactions wait to be scored). 200 when all three are ok, else 503. Open
  to anyone (load balancers do not log in), so it says nothing more than those words.
- ``/metrics``: Prometheus text format (prometheus_client) for queue depth, pending sentiment,
  failed tasks and interventions, open alerts and alert latency. For a scraper holding
  ``METRICS_TOKEN`` (``Authorization: Bearer …``) or a logged-in admin (the Admin role).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, F, Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.models import Failure, OrmQ
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from customers.models import Interaction
from interventions.models import Alert, Intervention
from moments.sentiment import selectors as sentiment_selectors

logger = logging.getLogger(__name__)

OK, FAIL = "ok", "fail"
# How far back alert latency looks: recent enough to show today's pipeline, not last month's.
LATENCY_WINDOW = timedelta(hours=24)


def redis_ping(url: str) -> None:
    """Raise unless the Redis at ``url`` answers within 2 seconds."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    if settings.Q_REDIS_URL:
        redis_ping(settings.Q_REDIS_URL)
    else:  # the ORM broker: its queue is a table of our database
        OrmQ.objects.exists()


def check_cache() -> None:
    key = "health:probe"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was just stored")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def _run(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception:  # any failure means "not healthy"; the log keeps the detail
        logger.exception("Health check %r failed", name)
        return FAIL
    return OK


def model_status() -> str:
    """ "ready", "training" or "none" (no model yet, none training)."""
    try:
        if sentiment_selectors.active_sentiment_model() is not None:
            return "ready"
        if sentiment_selectors.training_in_progress().exists():
            return "training"
    except Exception:  # the database check reports the cause
        return "unknown"
    return "none"


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    checks = {name: _run(name, check) for name, check in CHECKS.items()}
    healthy = all(state == OK for state in checks.values())
    body = {
        "status": OK if healthy else FAIL,
        "checks": checks,
        "sentiment_model": model_status(),
    }
    return JsonResponse(body, status=200 if healthy else 503)


class Collector:
    """Gauges read from the database and the broker at scrape time (no state in the process,
    so any web process answers for the whole deployment)."""

    def collect(self):
        yield GaugeMetricFamily(
            "memorycrm_task_queue_depth",
            "Tasks waiting in the task queue.",
            value=_queue_depth(),
        )
        yield GaugeMetricFamily(
            "memorycrm_sentiment_pending",
            "Interactions (the customer's words) waiting for a sentiment score.",
            value=Interaction.objects.sentiment_pending().count(),
        )
        yield GaugeMetricFamily(
            "memorycrm_tasks_failed",
            "Failed tasks kept by the task queue (admin: Task queue, Failed tasks).",
            value=Failure.objects.count(),
        )
        yield GaugeMetricFamily(
            "memorycrm_interventions_failed",
            "Interventions whose action failed after its retries.",
            value=Intervention.objects.filter(status=Intervention.Status.FAILED).count(),
        )
        yield GaugeMetricFamily(
            "memorycrm_alerts_unread",
            "Alerts nobody has read yet.",
            value=Alert.objects.filter(read_at__isnull=True).count(),
        )
        latency = GaugeMetricFamily(
            "memorycrm_alert_latency_seconds",
            "Seconds from an interaction being logged to its alert, over the last 24 hours.",
            labels=["stat"],
        )
        for stat, seconds in _alert_latency().items():
            latency.add_metric([stat], seconds)
        yield latency


def _queue_depth() -> int:
    if settings.Q_REDIS_URL:
        client = redis.Redis.from_url(settings.Q_REDIS_URL, socket_connect_timeout=2)
        try:
            return client.llen(f"django_q:{settings.Q_CLUSTER['name']}:q")
        finally:
            client.close()
    return OrmQ.objects.count()


def _alert_latency() -> dict[str, float]:
    since = timezone.now() - LATENCY_WINDOW
    figures = (
        Alert.objects.filter(
            created_at__gte=since, intervention__interaction__created_at__isnull=False
        )
        .annotate(latency=F("created_at") - F("intervention__interaction__created_at"))
        .aggregate(mean=Avg("latency"), max=Max("latency"))
    )
    return {
        stat: max(value.total_seconds(), 0.0) if value is not None else 0.0
        for stat, value in figures.items()
    }


def _may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    user = request.user
    return user.is_authenticated and (
        user.is_superuser or user.groups.filter(name="Admin").exists()
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        status = 403 if request.user.is_authenticated else 401
        response = HttpResponse("Metrics need METRICS_TOKEN or an admin login.\n", status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

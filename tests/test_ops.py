"""Operations: the health endpoint, Prometheus metrics, start-up checks of the Redis settings,
and the Procfile. Redis is the real local server (127.0.0.1:6379, its own db number); an
unreachable one is a closed port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings
from django.utils import timezone

from customers.models import Interaction
from interventions.models import Alert, Intervention, Rule
from memorycrm import checks
from tests.factories import InteractionFactory

ROOT = Path(__file__).resolve().parents[1]
REDIS = "redis://127.0.0.1:6379/9"
# One test process at a time uses it (CI runs two: pytest-xdist --dist loadgroup).
pytestmark = pytest.mark.xdist_group("redis-9")
NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def redis_cache(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DEBUG": "1", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- /health/ -----------------------------------------------------------------------------


def test_health_is_ok_on_the_embedded_defaults_and_says_nothing_more(client, db):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cache": "ok"},
        "sentiment_model": "none",
    }
    assert "no-cache" in response["Cache-Control"]


def test_health_is_ok_with_redis_as_broker_and_cache(client, db):
    with override_settings(CACHES=redis_cache(REDIS), Q_REDIS_URL=REDIS):
        response = client.get("/health/")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


def test_health_is_503_when_the_cache_is_unreachable(client, db):
    with override_settings(CACHES=redis_cache(NOWHERE)):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["checks"]["cache"] == "fail"


def test_health_is_503_when_the_broker_is_unreachable_without_telling_why(client, db):
    with override_settings(Q_REDIS_URL=NOWHERE):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "fail", "cache": "ok"}
    assert "refused" not in response.content.decode().lower()  # no internals for strangers
    assert "127.0.0.1" not in response.content.decode()


def test_health_answers_only_safe_methods(client, db):
    assert client.post("/health/").status_code == 405


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_need_a_token_or_an_admin(client, agent, admin_user):
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    client.force_login(agent)
    assert client.get("/metrics").status_code == 403
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN="scrape-me")
def test_metrics_take_the_scrapers_bearer_token(client, db):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_count_pending_sentiment_queue_and_failures(client, admin_user):
    InteractionFactory.create_batch(3)
    Interaction.objects.filter(pk=Interaction.objects.first().pk).update(
        scored_at=timezone.now(), sentiment_label="neutral"
    )
    client.force_login(admin_user)
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "\nmemorycrm_sentiment_pending 2.0\n" in text
    assert "\nmemorycrm_task_queue_depth " in text
    assert "\nmemorycrm_tasks_failed 0.0\n" in text
    assert "\nmemorycrm_interventions_failed 0.0\n" in text


def test_metrics_measure_alert_latency_from_the_interaction_being_logged(client, admin_user):
    logged = timezone.now() - timedelta(seconds=90)
    interaction = InteractionFactory(created_at=logged)
    rule = Rule.objects.create(
        slug="latency", name="Latency", event="interaction.scored", action=Rule.Action.ALERT
    )
    intervention = Intervention.objects.create(
        rule=rule,
        event="interaction.scored",
        subject_type=ContentType.objects.get_for_model(Interaction),
        subject_id=interaction.pk,
        customer=interaction.customer,
        interaction=interaction,
        scheduled_for=logged,
    )
    Alert.objects.create(
        recipient=admin_user,
        customer=interaction.customer,
        intervention=intervention,
        text="Frustrated customer",
        created_at=logged + timedelta(seconds=30),
    )
    client.force_login(admin_user)
    text = client.get("/metrics").content.decode()
    assert 'memorycrm_alert_latency_seconds{stat="mean"} 30.0' in text
    assert 'memorycrm_alert_latency_seconds{stat="max"} 30.0' in text
    assert "\nmemorycrm_alerts_unread 1.0\n" in text


# --- start-up checks --------------------------------------------------------------------------


def test_a_malformed_redis_url_stops_start_up_with_a_clear_error():
    result = manage("check", CACHE_URL="http://127.0.0.1:6379")
    assert result.returncode != 0
    assert "CACHE_URL must be a redis://, rediss:// or unix:// URL" in result.stderr
    result = manage("check", Q_REDIS_URL="redis://127.0.0.1:port/0")
    assert result.returncode != 0
    assert "Q_REDIS_URL='redis://127.0.0.1:port/0' is not a valid URL" in result.stderr


def test_an_unreachable_redis_stops_start_up_without_showing_its_password():
    result = manage("check", Q_REDIS_URL="redis://:hunter2@127.0.0.1:1/0")
    assert result.returncode != 0
    assert "Q_REDIS_URL: cannot reach Redis at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_reachable_redis_passes_the_start_up_checks():
    result = manage("check", Q_REDIS_URL=REDIS, CACHE_URL=REDIS)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_warns_of_a_per_process_cache_with_many_web_processes():
    with override_settings(WEB_CONCURRENCY=4):
        (warning,) = checks.shared_cache_for_many_processes()
    assert warning.id == "memorycrm.W001"
    with override_settings(WEB_CONCURRENCY=4, CACHES=redis_cache(REDIS)):
        assert checks.shared_cache_for_many_processes() == []
    with override_settings(WEB_CONCURRENCY=1):
        assert checks.shared_cache_for_many_processes() == []


@pytest.mark.parametrize("process", ["web", "worker", "release"])
def test_the_procfile_names_each_process(process):
    lines = dict(
        line.split(": ", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    command = lines[process]
    expected = {"web": "gunicorn memorycrm.wsgi", "worker": "manage.py qcluster"}
    assert expected.get(process, "manage.py migrate") in command


def test_the_release_step_sets_up_what_make_run_sets_up():
    """Every schedule `make run` ensures on one box, the Procfile's release step ensures on
    many hosts (email polling was missing from it once)."""
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    wanted = set(re.findall(r"manage\.py ((?:ensure|setup)_\w+)", run_recipe))
    release = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("release:")
    )
    assert wanted and wanted <= set(re.findall(r"manage\.py (\w+)", release))

"""End to end with a real django-q2 cluster: an interaction posted to the API gets scored by a
worker process (`manage.py qcluster`) that loads the real model itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from customers.models import Interaction

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]


def _database_url() -> str:
    """The test database as a URL the worker process can open (a file for SQLite)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def cluster(tmp_path):
    env = os.environ | {
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "DEBUG": "1",
        "MEMORYCRM_DATA_DIR": str(settings.DATA_DIR),
        "SENTIMENT_CACHE_DIR": str(settings.SENTIMENT_CACHE_DIR),
        "Q_WORKERS": "1",
        "Q_POLL": "0.2",
    }
    log = (tmp_path / "qcluster.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    # The cluster stops its own processes on SIGTERM to its parent (a few seconds); a SIGTERM
    # sent to the whole group at once left it waiting until the 30 s timeout, every test.
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    log.close()


def test_interaction_logged_through_the_api_is_scored_by_the_cluster(
    agent_api, customer, sentiment_model, cluster, tmp_path
):
    response = agent_api.post(
        "/api/v1/interactions/",
        {
            "customer": customer.pk,
            "channel": "email",
            "subject": "Complaint",
            "body": "This is unacceptable. I am furious, the order is lost and nobody answers!",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]

    deadline = time.monotonic() + 300  # the worker imports torch and loads the model first
    interaction = Interaction.objects.get(pk=pk)
    while interaction.scored_at is None and time.monotonic() < deadline:
        assert cluster.poll() is None, (tmp_path / "qcluster.log").read_text()[-3000:]
        time.sleep(0.5)
        interaction.refresh_from_db()

    assert interaction.scored_at is not None, (tmp_path / "qcluster.log").read_text()[-3000:]
    assert interaction.sentiment_label == "negative"
    assert interaction.sentiment_model == sentiment_model.version


def test_ad_hoc_texts_are_scored_by_a_worker_within_the_bounded_wait(
    agent_api, sentiment_model, cluster, settings
):
    # The worker loads the model on its first task: give it that long (production waits 10 s
    # and answers 202 with the result URL after that).
    settings.SENTIMENT_API_WAIT_SECONDS = 300
    response = agent_api.post(
        "/api/v1/sentiment/",
        {"texts": ["I hate this, worst support ever, I am furious!", "Thanks, you were great!"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["model"] == sentiment_model.version
    assert [r["label"] for r in response.json()["results"]] == ["negative", "positive"]

"""The frustration alert end to end through a real django-q2 cluster: `manage.py qcluster` runs
as a subprocess on the test database; the scored-interaction signal queues the firing task, the
cluster fires the rule, queues the execution and runs it: alert rows, emails (recorded as
OutboundEmail rows and written by the file backend of the subprocess)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from interventions.models import Alert, Intervention, OutboundEmail
from moments.signals import interactions_scored

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def cluster(tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "1",
        "Q_WORKERS": "1",
        "Q_POLL": "0.2",
        "DJANGO_SETTINGS_MODULE": "tests.interventions.cluster_settings",
        "TEST_EMAIL_FILE_PATH": str(mail_dir),
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "qcluster.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield mail_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def wait_for(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_frustration_alert_through_a_real_cluster(cluster, frustrated, manager, settings):
    interactions_scored.send(sender=None, interaction_ids=[frustrated.pk])

    sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT)
    finished = Intervention.objects.exclude(status__in=["scheduled", "running"])
    assert wait_for(lambda: sent.count() == 2 or finished.exists()), (
        list(Intervention.objects.values("status", "last_error")),
        (cluster.parent / "qcluster.log").read_text()[-3000:],
    )
    assert sent.count() == 2
    assert set(Alert.objects.values_list("recipient__username", flat=True)) == {"owner", "manager"}
    intervention = Intervention.objects.get()
    assert intervention.status == Intervention.Status.DONE
    assert intervention.attempts == 1
    assert sorted(sent.values_list("to", flat=True)) == ["manager@example.com", "owner@example.com"]
    messages = "".join(p.read_text() for p in cluster.iterdir())
    assert messages.count("Subject: [MemoryCRM] Frustrated customer: Grace Hopper") == 2

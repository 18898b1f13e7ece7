"""The frustration alert end to end through a real django-q2 cluster: `manage.py qcluster` runs
as a subprocess on the test database (`mail_cluster`, tests/conftest.py); the scored-interaction
signal queues the firing task, the cluster fires the rule, queues the execution and runs it:
alert rows, emails (recorded as OutboundEmail rows and written by the file backend of the
subprocess)."""

import pytest

from interventions.models import Alert, Intervention, OutboundEmail
from moments.signals import interactions_scored

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_frustration_alert_through_a_real_cluster(mail_cluster, frustrated, manager, settings):
    interactions_scored.send(sender=None, interaction_ids=[frustrated.pk])

    sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT)
    finished = Intervention.objects.exclude(status__in=["scheduled", "running"])
    mail_cluster.wait_for(
        lambda: sent.count() == 2 or finished.exists(),
        timeout=60,
        state=lambda: list(Intervention.objects.values("status", "last_error")),
    )
    assert sent.count() == 2
    assert set(Alert.objects.values_list("recipient__username", flat=True)) == {"owner", "manager"}
    intervention = Intervention.objects.get()
    assert intervention.status == Intervention.Status.DONE
    assert intervention.attempts == 1
    assert sorted(sent.values_list("to", flat=True)) == ["manager@example.com", "owner@example.com"]
    messages = "".join(p.read_text() for p in mail_cluster.mail_dir.iterdir())
    assert messages.count("Subject: [MemoryCRM] Frustrated customer: Grace Hopper") == 2

"""The frustration alert end to end through a real django-q2 cluster: `manage.py qcluster` runs
as a subprocess on the test database (`mail_cluster`, tests/conftest.py); the scored-interaction
signal queues the firing task, the cluster fires the rule, queues the execution and runs it:
alert rows, emails (recorded as OutboundEmail rows and written by the file backend of the
subprocess)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from interventions.models import Alert, Intervention, OutboundEmail
from moments.signals import interactions_scored
from tests.factories import CustomerFactory, InteractionFactory

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
    assert sorted(Alert.objects.values_list("recipient__username", flat=True)) == [
        "manager",
        "owner",
    ]
    intervention = Intervention.objects.get()
    assert intervention.status == Intervention.Status.DONE
    assert intervention.attempts == 1
    assert sorted(sent.values_list("to", flat=True)) == ["manager@example.com", "owner@example.com"]
    messages = "".join(p.read_text() for p in mail_cluster.mail_dir.iterdir())
    assert messages.count("Subject: [MemoryCRM] Frustrated customer: Grace Hopper") == 2


def test_each_event_alerts_and_emails_once_however_many_worker_hosts(
    mail_cluster, frustrated, manager, owner
):
    """Several frustrated customers at once: the tasks spread over the workers (two hosts in
    the scaled pass), and each event still makes one intervention, two alerts, two emails."""
    events = [frustrated]
    for i in range(5):
        customer = CustomerFactory(name=f"Frustrated {i}", email=f"f{i}@example.com", owner=owner)
        events.append(
            InteractionFactory(
                customer=customer,
                stage=frustrated.stage,
                sentiment_label=frustrated.sentiment_label,
                sentiment_score=frustrated.sentiment_score,
                sentiment_confidence=frustrated.sentiment_confidence,
                subject="Still broken",
                body=frustrated.body,
                occurred_at=timezone.now() - timedelta(minutes=5),
            )
        )
    for event in events:  # one task each, so that every host takes some
        interactions_scored.send(sender=None, interaction_ids=[event.pk])

    unfinished = Intervention.objects.filter(status__in=["scheduled", "running"])
    mail_cluster.wait_for(
        lambda: Intervention.objects.count() >= len(events) and not unfinished.exists(),
        timeout=120,
        state=lambda: list(Intervention.objects.values("status", "last_error")),
    )
    time.sleep(2)  # a duplicate would show up now
    assert Intervention.objects.count() == len(events)
    assert set(Intervention.objects.values_list("status", flat=True)) == {"done"}
    assert Alert.objects.count() == 2 * len(events)
    sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT)
    assert sent.count() == 2 * len(events)
    messages = "".join(p.read_text() for p in mail_cluster.mail_dir.iterdir())
    assert messages.count("Subject: [MemoryCRM] Frustrated customer:") == 2 * len(events)

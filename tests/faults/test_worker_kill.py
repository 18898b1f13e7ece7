"""A django-q2 cluster killed with SIGKILL in the middle of a batch of sentiment scoring and of
an email intervention; after a new cluster starts, every interaction is scored once, no moment
detection is lost, and each email goes out exactly once.

The first cluster (two workers) scores a renewal-stage interaction of customer A; a rule emails
A on it. The email backend writes the message and then hangs that worker (hanging_email.py):
the message has left, the send is not yet recorded. The other worker is given a batch of
interactions to score, one of them customer B's renewal. Once part of the batch is scored, the
whole cluster's process group gets SIGKILL. The second cluster then finds the tasks the first
had taken once their lock expires (Q_RETRY), and the claimer (`dispatch_due`, scheduled every
minute) takes back the intervention stuck in "running" (INTERVENTIONS_RUNNING_TIMEOUT_MINUTES is
0 for it: in production the 15 minutes would have passed).

It runs on both brokers. On Redis, whatever the killed cluster had popped is gone from Redis;
the outbox rows of those tasks are not (a worker deletes a row when its task has finished), and
the sweep (`relay_outbox`, every minute) queues them again once their lease (40 s here) has run
out (memorycrm/lib/queue.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django_q.models import OrmQ

from customers.models import Customer, Interaction, JourneyStage
from customers.services import announce_interactions
from interventions import tasks as intervention_tasks
from interventions.models import Intervention, OutboundEmail, Rule
from memorycrm import tasks as memorycrm_tasks
from memorycrm.models import OutboxTask
from moments.memory import services as memory_services
from moments.models import Moment
from tests.cluster import Cluster

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("redis-8"),  # one test process at a time empties it
]

BATCH = 40
CHUNK = 4  # interactions per scoring task: the batch is 10 tasks
REDIS_URL = "redis://127.0.0.1:6379/8"
LEASE = "40"  # seconds, as Q_RETRY for the ORM broker


@pytest.fixture(params=["orm", "redis"])
def broker(request, settings):
    """The broker of the test and its clusters: django-q2's ORM broker, or Redis (its queue
    empty) with the outbox's sweep scheduled. Returns the clusters' extra environment."""
    if request.param == "orm":
        if settings.Q_REDIS_URL:
            pytest.skip("this process is configured for Redis (the scaled pass)")
        yield {}
        return
    settings.Q_REDIS_URL = REDIS_URL
    settings.OUTBOX_LEASE_SECONDS = int(LEASE)  # what this process relays is leased so long
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    memorycrm_tasks.ensure_outbox_schedule()
    yield {"Q_REDIS_URL": REDIS_URL, "OUTBOX_LEASE_SECONDS": LEASE}
    client.flushdb()
    client.close()


def queued() -> bool:
    """Tasks still to run: in the ORM queue, or outbox rows (in Redis, or lost with a worker)."""
    if not settings.Q_REDIS_URL:
        return OrmQ.objects.exists()
    return OutboxTask.objects.exists()


@pytest.fixture
def clusters(start_cluster, tmp_path, broker):
    """start(name, **env): a cluster whose emails go through hanging_email.py into tmp_path/mail.
    A task taken by a dead cluster is handed out again after Q_RETRY seconds; Q_TIMEOUT (below
    it) still leaves room for loading the model. The log (INFO) is shown when the test fails."""
    (tmp_path / "mail").mkdir()

    def start(name: str, **env: str) -> Cluster:
        return start_cluster(
            name,
            DJANGO_SETTINGS_MODULE="tests.faults.cluster_settings",
            TEST_EMAIL_FILE_PATH=str(tmp_path / "mail"),
            Q_TIMEOUT="30",
            Q_RETRY="40",
            LOG_LEVEL="INFO",
            **(broker | env),
        )

    return start


def state() -> dict:
    return {
        "pending": Interaction.objects.filter(scored_at__isnull=True).count(),
        "queued": OrmQ.objects.count() + OutboxTask.objects.count(),
        "interventions": list(Intervention.objects.values("status", "attempts", "last_error")),
        "emails": list(OutboundEmail.objects.values("to", "status")),
    }


def emails_to(mail_dir: Path, address: str) -> int:
    return sum(path.read_text().count(f"\nTo: {address}\n") for path in mail_dir.iterdir())


def test_worker_killed_mid_batch_and_mid_email_scores_once_and_emails_once(
    clusters, sentiment_model, tmp_path, settings
):
    settings.SENTIMENT_TASK_CHUNK = CHUNK
    Rule.objects.update(active=False)  # only the rule below: its emails are the ones counted
    Rule.objects.create(
        slug="fault-renewal-thanks",
        active=True,
        name="Renewal thanks",
        event="interaction.scored",
        conditions=[{"field": "stage", "op": "eq", "value": "renewal"}],
        action=Rule.Action.EMAIL,
        action_config={"template": "thank-you", "to": "customer"},
    )
    intervention_tasks.ensure_schedules()  # the claimer, as `make run` sets it up
    renewal = JourneyStage.objects.get(slug="renewal")
    customers = [
        Customer.objects.create(name=f"Kill {i}", email=f"kill{i}@example.com") for i in range(5)
    ]
    a, b = (
        Customer.objects.create(name=name, email=f"{name.lower()}@example.com")
        for name in ("Alice", "Bob")
    )
    mail_dir = tmp_path / "mail"
    hang_marker = tmp_path / "hanging"

    first = clusters("qcluster-1", Q_WORKERS="2", FAULT_HANG_MARKER=str(hang_marker))
    with transaction.atomic():
        renewal_a = Interaction.objects.create(
            customer=a, channel="email", stage=renewal, subject="Renewed", body="Happy to renew."
        )
        announce_interactions([renewal_a.pk])
    # One worker sends A's email and hangs before recording it.
    first.wait_for(hang_marker.exists, timeout=300, interval=0.2, state=state)
    assert emails_to(mail_dir, "alice@example.com") == 1

    texts = ["The parcel is late again, I am angry.", "Thanks, that was quick!", "Invoice sent."]
    with transaction.atomic():
        batch = Interaction.objects.bulk_create(
            Interaction(
                customer=customers[i % len(customers)],
                channel="chat",
                subject=f"Batch {i}",
                body=texts[i % len(texts)],
            )
            for i in range(BATCH)
        )
        batch.insert(
            BATCH // 2,
            Interaction.objects.create(
                customer=b,
                channel="email",
                stage=renewal,
                subject="Renewed",
                body="Happy to renew.",
            ),
        )
        ids = [interaction.pk for interaction in batch]
        announce_interactions(ids)
    scored = Interaction.objects.filter(pk__in=ids, scored_at__isnull=False)
    # The other worker scores the batch; kill everything once part of it is done.
    first.wait_for(scored.exists, timeout=300, interval=0.05, state=state)
    # Right as the first slice of scores commits. Moment detection and rule firing are queued
    # inside the scoring transaction (the ORM task queue: memorycrm.lib.queue), so no instant
    # after that commit loses them; they used to be queued on commit, a few milliseconds later.
    first.kill()
    before = dict(scored.values_list("pk", "scored_at"))
    assert 0 < len(before) < len(ids), "the kill came after the whole batch: nothing to test"

    second = clusters("qcluster-2", Q_WORKERS="1", INTERVENTIONS_RUNNING_TIMEOUT_MINUTES="0")
    everything = Interaction.objects.filter(pk__in=[*ids, renewal_a.pk])
    unfinished = Intervention.objects.filter(status__in=["scheduled", "running"])
    second.wait_for(
        lambda: (
            not everything.filter(scored_at__isnull=True).exists()
            and Intervention.objects.count() == 2
            and not unfinished.exists()
            and not queued()
        ),
        timeout=300,
        interval=0.5,
        state=state,
    )
    second.stop()

    # Scored, and scored once: what the first cluster wrote was not scored again.
    assert not everything.filter(sentiment_label="").exists()
    assert dict(Interaction.objects.filter(pk__in=before).values_list("pk", "scored_at")) == before
    # No detection was lost: detecting again now finds no moment that is missing.
    moments = Moment.objects.count()
    memory_services.detect_moments(interaction_ids=[*ids, renewal_a.pk])
    assert Moment.objects.count() == moments
    # Each email went out exactly once. A's was sent by the killed worker, which could not
    # record it: it stays "sending" and is not sent again (the intervention says why).
    assert emails_to(mail_dir, "alice@example.com") == 1
    assert emails_to(mail_dir, "bob@example.com") == 1
    email_a = OutboundEmail.objects.get(to="alice@example.com")
    assert email_a.status == OutboundEmail.Status.SENDING
    assert email_a.intervention.status == Intervention.Status.FAILED
    assert "not re-sent" in email_a.intervention.last_error
    email_b = OutboundEmail.objects.get(to="bob@example.com")
    assert email_b.status == OutboundEmail.Status.SENT
    assert email_b.intervention.status == Intervention.Status.DONE

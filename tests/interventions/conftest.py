"""Fixtures for the interventions tests.

`run_queued` plays the django-q2 worker in this process: it runs (and removes) every task in the
ORM broker's queue, including the ones those tasks queue, so a flow can be followed end to end
without a cluster. The cluster itself is exercised in test_cluster.py.
"""

from __future__ import annotations

import ssl
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from customers.models import Interaction, JourneyStage
from interventions.models import Rule
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

OURS = ("interventions.", "surveys.")


@pytest.fixture
def run_queued(db, django_capture_on_commit_callbacks):
    """Run the queued interventions and surveys tasks here, as a worker would (on-commit
    callbacks included); other apps' tasks are dropped."""

    def run(limit: int = 100) -> list:
        results = []
        for _ in range(limit):
            queued = OrmQ.objects.order_by("pk").first()
            if queued is None:
                return results
            task = queued.task
            queued.delete()
            func = task["func"]
            if isinstance(func, str) and not func.startswith(OURS):
                continue  # another app's task (e.g. sentiment scoring): not ours to run
            func = import_string(func) if isinstance(func, str) else func
            with django_capture_on_commit_callbacks(execute=True):
                results.append(func(*task.get("args", ()), **task.get("kwargs", {})))
        raise AssertionError("the task queue did not drain")

    return run


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", role="Agent")


@pytest.fixture
def frustrated(db, owner):
    """A customer with an owner and a negative, confidently scored interaction in a critical
    stage (complaint) — what the frustration alert is for."""
    customer = CustomerFactory(name="Grace Hopper", email="grace@example.com", owner=owner)
    interaction = InteractionFactory(
        customer=customer,
        stage=JourneyStage.objects.get(slug="complaint"),
        sentiment_label=Interaction.Sentiment.NEGATIVE,
        sentiment_score=-0.9,
        sentiment_confidence=0.95,
        subject="Still broken",
        body="This is the third time I write. Nobody answers.",
        # Fresh news (real-time rules act only within INTERVENTIONS_FRESH_HOURS): the factory's
        # default goes back a minute per interaction made before it in the whole test session.
        occurred_at=timezone.now() - timedelta(minutes=5),
    )
    return interaction


@pytest.fixture
def rule(db):
    def make(slug: str, **changes) -> Rule:
        rule = Rule.objects.get(slug=slug)
        for field, value in changes.items():
            setattr(rule, field, value)
        rule.save()
        return rule

    return make


class Receiver:
    """A local HTTP server on 127.0.0.1 recording what it receives (answering each POST with
    the next of `statuses`, then 200; with a Location header if `location` is set)."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        location: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append({"headers": self.headers, "body": self.rfile.read(length)})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver(settings):
    """Make local receivers. Webhooks never go to 127.0.0.1 unless it is allow-listed, which
    `allow=True` (the default) does for the test, as an on-premise receiver would need."""
    receivers = []

    def make(
        statuses: list[int] | None = None,
        *,
        allow: bool = True,
        location: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> Receiver:
        if allow:
            settings.INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        receiver = Receiver(statuses, location, tls)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()

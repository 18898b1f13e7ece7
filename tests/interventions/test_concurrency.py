"""Duplicate delivery for real: two threads with their own database connections execute the same
intervention (or fire the same event) at the same moment. Exactly one email goes out."""

import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from interventions import conditions as cond
from interventions import engine
from interventions.models import Intervention, OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)


class SlowBackend(EmailBackend):
    """The locmem backend, slow enough that a second worker would overlap the first."""

    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)


def in_threads(func, n: int = 2) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = func()
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_same_task_executed_concurrently_sends_one_email(frustrated, settings):
    settings.EMAIL_BACKEND = "tests.interventions.test_concurrency.SlowBackend"
    [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)
    results = in_threads(lambda: engine.execute(intervention.pk))
    assert sorted(results) == ["done", "not claimed"]
    assert len(mail.outbox) == 1  # the owner (there are no managers)
    assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT


def test_same_email_sent_concurrently_goes_out_once(frustrated, settings):
    """Even without the intervention claim (two reclaims racing), the email row's own claim
    admits one sender."""
    from interventions.actions import send_email_once

    settings.EMAIL_BACKEND = "tests.interventions.test_concurrency.SlowBackend"
    [intervention] = engine.fire_event(event=cond.INTERACTION_SCORED, subject=frustrated)

    def send():
        return send_email_once(
            intervention=intervention, purpose="alert", to="x@example.com", subject="s", body="b"
        )

    results = in_threads(send)
    assert "sent" in results
    assert len(mail.outbox) == 1


def test_same_event_fired_concurrently_creates_one_intervention(frustrated):
    def fire():
        subject = type(frustrated).objects.get(pk=frustrated.pk)
        return len(engine.fire_event(event=cond.INTERACTION_SCORED, subject=subject))

    assert sorted(in_threads(fire)) == [0, 1]
    assert Intervention.objects.count() == 1

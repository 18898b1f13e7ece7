"""Exactly one response per invitation, even when posts race (real threads, real commits)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from surveys import services
from surveys.models import Invitation, Response, Survey
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _race(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # collected and failed on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.fixture
def fresh_invitation():
    survey = Survey.objects.get(name="What stood out?")
    customer = CustomerFactory()
    result = services.create_invitation(survey=survey, customer=customer, send=False)
    return result.invitation, result.token


def test_concurrent_posts_store_exactly_one_response(fresh_invitation):
    invitation, token = fresh_invitation
    n = 6
    statuses = _race(
        n,
        lambda i: (
            Client(REMOTE_ADDR=f"10.0.0.{i}")
            .post(f"/s/{token}/", {"rating": str(1 + i % 5), "answer": f"tab {i}"})
            .status_code
        ),
    )
    assert Response.objects.filter(invitation=invitation).count() == 1
    # Every tab got a success: the winner a redirect to the thanks page, the rest "thank you".
    assert set(statuses) <= {200, 302}
    assert statuses.count(302) >= 1
    assert Invitation.objects.get(pk=invitation.pk).answered_at is not None


def test_concurrent_service_calls_create_once(fresh_invitation):
    invitation, _ = fresh_invitation
    results = _race(
        4,
        lambda i: services.submit_response(
            invitation=Invitation.objects.get(pk=invitation.pk), rating=3, answer=str(i)
        )[1],
    )
    assert results.count(True) == 1
    assert Response.objects.count() == 1


def test_concurrent_invitations_respect_the_frequency_limit():
    survey = Survey.objects.get(name="What stood out?")
    customer = CustomerFactory()
    results = _race(
        4,
        lambda i: services.create_invitation(survey=survey, customer=customer, send=False).token,
    )
    assert sum(token is not None for token in results) == 1
    assert Invitation.objects.filter(skipped_reason="too_soon").count() == 3

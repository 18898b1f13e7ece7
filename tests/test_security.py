import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _fail(client, username="agent", ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=ip
    )


def test_login_locks_out_after_repeated_failures(client, agent, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert _fail(client).status_code == 200
    response = client.post(
        reverse("login"), {"username": "agent", "password": "pw-for-tests"}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_client_and_account(client, agent, settings):
    settings.LOGIN_MAX_FAILURES = 2
    _fail(client)
    _fail(client)
    response = client.post(
        reverse("login"), {"username": "agent", "password": "pw-for-tests"}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 302


def test_successful_login_resets_the_count(client, agent, settings):
    settings.LOGIN_MAX_FAILURES = 2
    _fail(client)
    ok = client.post(
        reverse("login"), {"username": "agent", "password": "pw-for-tests"}, REMOTE_ADDR="10.0.0.1"
    )
    assert ok.status_code == 302
    client.logout()
    assert _fail(client).status_code == 200  # one failure since the reset: not locked

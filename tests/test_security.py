"""Log-in lockout (django-axes) on every log-in path, and the client address behind a proxy."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from memorycrm.lib.ratelimit import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests/factories.py
LOGIN_PATHS = ["/accounts/login/", "/admin/login/", "/api/v1/auth/login/"]


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_COOLOFF_MINUTES = 5
    settings.LOGIN_COOLOFF_MAX_MINUTES = 60


def _post(client, path, username, password, ip="10.0.0.1", **extra):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client, path="/accounts/login/", username="admin", ip="10.0.0.1"):
    return _post(client, path, username, "wrong", ip)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize(
    ("fail_on", "log_in_on"),
    [(LOGIN_PATHS[i], LOGIN_PATHS[(i + 1) % 3]) for i in range(3)] + [(p, p) for p in LOGIN_PATHS],
)
def test_failures_on_one_login_path_lock_every_path(client, admin_user, fail_on, log_in_on):
    for _ in range(3):
        _fail(client, fail_on)
    response = _post(client, log_in_on, "admin", PASSWORD)
    assert response.status_code == 429
    assert "temporarily locked" in response.content.decode()
    assert not _logged_in(client)


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_the_locked_login_page_shows_the_form_with_the_reason(client, admin_user, path):
    for _ in range(3):
        _fail(client, path)
    response = _post(client, path, "admin", PASSWORD)
    page = response.content.decode()
    assert 'name="password"' in page  # the log-in form again, not a bare error page
    assert "This account is temporarily locked" in page
    assert int(response["Retry-After"]) == 10 * 60  # this attempt while locked doubled 5 minutes
    assert "Try again in 10 minutes" in page


def test_a_json_client_of_the_api_login_gets_a_json_429(client, admin_user):
    for _ in range(3):
        _fail(client, "/api/v1/auth/login/")
    response = _post(
        client, "/api/v1/auth/login/", "admin", PASSWORD, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 429
    assert "temporarily locked" in response.json()["detail"]


def test_failures_below_the_limit_do_not_lock(client, agent):
    for _ in range(2):
        assert _fail(client, username="agent").status_code == 200
    assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302


def test_the_lock_is_per_account_not_per_address(client, agent, admin_user):
    """Guessing many accounts from one address (or one proxy everybody shares) locks nobody
    else out: 45 failures with random names, then `agent` logs in from the same address."""
    for _ in range(45):
        _fail(client, username=f"nobody-{uuid4().hex[:8]}")
    assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302


def test_the_lock_follows_the_account_across_addresses(client, agent):
    for n in range(3):
        _fail(client, username="agent", ip=f"10.0.0.{n + 1}")
    response = _post(client, "/accounts/login/", "agent", PASSWORD, ip="192.0.2.7")
    assert response.status_code == 429


def test_failures_seen_by_one_process_lock_the_account_in_another(agent):
    """The counts live in the database, not in a process: failures made through one client
    lock the account for a second client with its own session and cookie jar, after the
    per-process cache (what a second gunicorn worker would start with) was emptied."""
    first, second = Client(), Client()
    for _ in range(3):
        _fail(first, username="agent")
    cache.clear()
    response = _post(second, "/accounts/login/", "agent", PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429
    assert not _logged_in(second)


def test_the_lock_lifts_after_the_cool_off(client, agent):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(2):
            _fail(client, username="agent")
        locking = _fail(client, username="agent")
        assert locking.status_code == 429
        assert int(locking["Retry-After"]) == 5 * 60
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302


def test_each_attempt_during_the_lock_doubles_the_cool_off(client, agent):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            _fail(client, username="agent")
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        # even the right password: while locked, the password is not checked at all
        response = _post(client, "/accounts/login/", "agent", PASSWORD)
        assert response.status_code == 429
        assert int(response["Retry-After"]) == 10 * 60
    with time_machine.travel(start + timedelta(minutes=4 + 9), tick=False):
        response = _post(client, "/accounts/login/", "agent", PASSWORD)
        assert int(response["Retry-After"]) == 20 * 60
    with time_machine.travel(start + timedelta(minutes=4 + 9 + 20, seconds=1), tick=False):
        assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302


def test_the_cool_off_is_capped(client, agent, settings):
    settings.LOGIN_COOLOFF_MAX_MINUTES = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(20):
            _fail(client, username="agent")
    with time_machine.travel(start + timedelta(minutes=30, seconds=1), tick=False):
        assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302


def test_successful_login_resets_the_count(client, agent):
    _fail(client, username="agent")
    _fail(client, username="agent")
    assert _post(client, "/accounts/login/", "agent", PASSWORD).status_code == 302
    client.logout()
    assert _fail(client, username="agent").status_code == 200
    assert _fail(client, username="agent").status_code == 200  # two since the reset: not locked


# --- Client address -----------------------------------------------------------------------


def _request(xff=None, remote="10.0.0.1", header="HTTP_X_FORWARDED_FOR"):
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta[header] = xff
    return RequestFactory().get("/", **meta)


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("203.0.113.5")) == "10.0.0.1"


@pytest.mark.parametrize(
    ("count", "xff", "expected"),
    [
        (1, "203.0.113.5", "203.0.113.5"),
        # the client wrote the left part itself; our one proxy appended the right-most
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        (2, "6.6.6.6, 203.0.113.5, 10.1.1.1", "203.0.113.5"),
        (1, "2001:db8::1", "2001:db8::1"),
        # fewer entries than proxies, or garbage: the proxy's own address, never the header
        (2, "203.0.113.5", "10.0.0.1"),
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_behind_trusted_proxies_the_address_comes_from_their_header(settings, count, xff, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(_request(xff)) == expected


def test_the_proxy_header_name_is_configurable(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_HEADER = "X-Real-IP"
    request = _request("203.0.113.9", header="HTTP_X_REAL_IP")
    request.META["HTTP_X_FORWARDED_FOR"] = "6.6.6.6"
    assert client_ip(request) == "203.0.113.9"


def test_the_lockout_records_the_address_the_proxy_saw(client, agent, settings):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXY_COUNT = 1
    client.post(
        reverse("login"),
        {"username": "agent", "password": "wrong"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5",
    )
    assert AccessAttempt.objects.get(username="agent").ip_address == "203.0.113.5"


# --- Bounded input: dates, text size, page numbers -----------------------------------------

INTERACTIONS = "/api/v1/interactions/"


def _interaction(customer, **overrides):
    body = {"customer": customer.pk, "channel": "email", "subject": "Hi", "body": "Hello"}
    body.update(overrides)
    return body


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_the_api_refuses_an_interaction_before_1970(agent_api, customer, when):
    response = agent_api.post(INTERACTIONS, _interaction(customer, occurred_at=when), format="json")
    assert response.status_code == 400
    assert "1970" in " ".join(response.json()["occurred_at"])


def test_the_earliest_date_is_configurable(agent_api, customer, settings):
    settings.INTERACTION_EARLIEST = "2000-01-01"
    when = "1999-06-01T00:00:00Z"
    response = agent_api.post(INTERACTIONS, _interaction(customer, occurred_at=when), format="json")
    assert "2000-01-01" in " ".join(response.json()["occurred_at"])
    ok = _interaction(customer, occurred_at="2000-01-01T00:00:00Z")
    assert agent_api.post(INTERACTIONS, ok, format="json").status_code == 201


def test_the_page_refuses_an_interaction_in_year_1(agent_client, customer):
    response = agent_client.post(
        reverse("interaction-create", args=[customer.pk]),
        {
            "channel": "call",
            "direction": "inbound",
            "occurred_at": "0001-01-01T00:00",
            "subject": "Old",
            "body": "Very old",
        },
    )
    assert response.status_code == 200
    assert "1970" in response.content.decode()
    assert not customer.interactions.exists()


def test_the_csv_import_refuses_an_interaction_in_year_1(customer):
    from customers import imports
    from customers.models import ImportJob

    text = (
        "customer_email,channel,occurred_at,subject\n"
        f"{customer.email},email,0001-01-01T00:00:00Z,Old\n"
    )
    job = ImportJob.objects.create(kind="interactions", filename="i.csv", content=text)
    job = imports.run_import_job(job_id=job.pk)
    assert job.error_count == 1
    assert "1970" in job.errors[0]["reason"]


def test_promoting_an_interaction_stored_in_year_1_is_no_500(agent_api, customer):
    """Rows stored before the bound existed are still there: promoting one must not crash."""
    from tests.moments.factories import ScoredInteractionFactory

    old = ScoredInteractionFactory(customer=customer, occurred_at=datetime(1, 1, 1, tzinfo=UTC))
    response = agent_api.post("/api/v1/moments/", {"interaction": old.pk}, format="json")
    assert response.status_code in (201, 400), response.content


def test_a_long_email_fits_in_an_interaction_body(agent_api, customer):
    body = _interaction(customer, body="x" * 100_000)
    assert agent_api.post(INTERACTIONS, body, format="json").status_code == 201


def test_an_interaction_body_over_the_cap_is_refused_clearly(agent_api, customer):
    body = _interaction(customer, body="x" * 100_001)
    response = agent_api.post(INTERACTIONS, body, format="json")
    assert response.status_code == 400
    assert "100,000" in " ".join(response.json()["body"])


def test_a_huge_report_page_number_is_no_500(manager_client):
    response = manager_client.get("/surveys/report/", {"page": "9" * 30})
    assert response.status_code == 200


# --- Password reset by email -------------------------------------------------------------------


def _deliver() -> int:
    """Run the queued password reset emails, as a worker would; returns how many ran."""
    from django_q.models import OrmQ

    from memorycrm import tasks

    ran = 0
    for row in OrmQ.objects.order_by("pk"):
        if row.task["func"] == "memorycrm.tasks.send_password_reset":
            row.delete()
            tasks.send_password_reset(*row.task["args"])
            ran += 1
    return ran


def _request_reset(client, email: str, **extra):
    response = client.post(reverse("password_reset"), {"email": email}, **extra)
    _deliver()
    return response


def _reset_link(mail) -> str:
    import re

    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)


def test_the_login_page_links_to_password_reset(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in page


def test_a_user_resets_their_password_by_email(client, agent, mailoutbox):
    from django.core import mail

    agent.email = "agent@example.com"
    agent.save()
    response = _request_reset(client, "AGENT@example.com")
    assert response.status_code == 302
    assert mail.outbox[0].to == ["agent@example.com"]
    form = client.get(_reset_link(mail), follow=True)
    assert form.status_code == 200
    assert 'name="new_password1"' in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert done.status_code == 302
    assert _post(client, "/accounts/login/", "agent", "a-new-long-passphrase").status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, agent, mailoutbox):
    from django.core import mail

    response = _request_reset(client, "nobody@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_the_reset_email_is_sent_by_a_worker_not_during_the_request(client, agent, mailoutbox):
    """The answer does not wait for the mail server, so it takes as long for an address with
    an account as for one without; and the queue holds the user's id, never the link."""
    from django_q.models import OrmQ

    response = client.post(reverse("password_reset"), {"email": "agent@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []
    [queued] = [row.task for row in OrmQ.objects.all()]
    assert queued["func"] == "memorycrm.tasks.send_password_reset"
    assert queued["args"] == (agent.pk, "testserver", False)
    assert _deliver() == 1
    assert "/accounts/reset/" in mailoutbox[0].body


def test_a_queued_reset_for_a_deactivated_user_sends_nothing(client, agent, mailoutbox):
    client.post(reverse("password_reset"), {"email": "agent@example.com"})
    agent.is_active = False
    agent.save()
    assert _deliver() == 1
    assert mailoutbox == []


def test_a_password_reset_lifts_the_lockout(client, agent, mailoutbox):
    from django.core import mail

    agent.email = "agent@example.com"
    agent.save()
    for _ in range(3):
        _fail(client, username="agent")
    _request_reset(client, "agent@example.com")
    form = client.get(_reset_link(mail), follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert _post(client, "/accounts/login/", "agent", "a-new-long-passphrase").status_code == 302


# --- Password reset: no mailbox flood, no account probing ------------------------------------


@pytest.fixture
def reset_limits(settings):
    settings.PASSWORD_RESET_EMAILS_PER_HOUR = 3
    settings.PASSWORD_RESET_REQUESTS_PER_HOUR = 8
    return settings


def _ask_reset(client, email, ip="10.0.0.1", **extra):
    return _request_reset(client, email, REMOTE_ADDR=ip, **extra)


def _answer(response) -> tuple:
    return response.status_code, response.get("Location"), response.content


def test_a_flood_of_resets_for_one_address_sends_only_the_limit(
    client, agent, mailoutbox, reset_limits
):
    answers = {_answer(_ask_reset(client, "agent@example.com")) for _ in range(6)}
    assert len(mailoutbox) == 3
    assert answers == {(302, reverse("password_reset_done"), b"")}  # the same every time


def test_known_and_unknown_addresses_get_the_same_answers_past_the_limit(
    client, agent, mailoutbox, reset_limits
):
    known = [_answer(_ask_reset(client, "agent@example.com", ip="10.0.0.1")) for _ in range(5)]
    unknown = [_answer(_ask_reset(client, "nobody@example.com", ip="10.0.0.2")) for _ in range(5)]
    assert known == unknown


def test_the_address_limit_ignores_case_and_spaces(client, agent, mailoutbox, reset_limits):
    for email in [
        "agent@example.com",
        "AGENT@example.com",
        " Agent@Example.com ",
        "agent@EXAMPLE.com",
    ]:
        _ask_reset(client, email)
    assert len(mailoutbox) == 3


def test_the_address_limit_lifts_after_the_hour(client, agent, mailoutbox, reset_limits):
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(4):
            _ask_reset(client, "agent@example.com")
    assert len(mailoutbox) == 3
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        _ask_reset(client, "agent@example.com")
    assert len(mailoutbox) == 4


def test_one_client_asking_for_many_addresses_is_stopped(client, agent, mailoutbox, reset_limits):
    for i in range(8):
        assert _ask_reset(client, f"someone{i}@example.com").status_code == 302
    refused = _ask_reset(client, "agent@example.com")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many password reset requests" in refused.content.decode()
    assert 'name="email"' in refused.content.decode()  # the form again, saying why
    assert mailoutbox == []
    # Another client is not affected.
    assert _ask_reset(client, "agent@example.com", ip="10.0.0.9").status_code == 302
    assert len(mailoutbox) == 1


def test_the_client_limit_counts_the_address_the_trusted_proxy_saw(
    client, agent, mailoutbox, reset_limits
):
    reset_limits.TRUSTED_PROXY_COUNT = 1
    for i in range(8):
        _ask_reset(client, f"x{i}@example.com", ip="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")
    behind_the_same_proxy = _ask_reset(
        client, "agent@example.com", ip="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert behind_the_same_proxy.status_code == 302
    assert len(mailoutbox) == 1


def test_the_reset_limits_are_counted_in_the_shared_cache(client, agent, mailoutbox, reset_limits):
    """With CACHE_URL (Redis) the counters live in Redis, where every web process reads them:
    one per address (under a hash, not the address), and it holds."""
    from django.core.cache import caches

    prefix = f"test-{uuid4().hex}"
    reset_limits.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
            "KEY_PREFIX": prefix,
        }
    }
    other_process = caches.create_connection("default")
    try:
        for _ in range(3):
            _ask_reset(client, "agent@example.com")
        assert len(mailoutbox) == 3
        keys = other_process._cache.get_client().keys(f"{prefix}:*password-reset:address*")
        assert len(keys) == 1  # one counter, in Redis, under a hash of the address
        assert b"agent" not in keys[0]
        _ask_reset(client, "agent@example.com")
        assert len(mailoutbox) == 3
    finally:
        client_ = other_process._cache.get_client()
        for key in client_.keys(f"{prefix}:*"):
            client_.delete(key)

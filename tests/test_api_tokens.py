"""API tokens (django-rest-knox): issued for a user name and password, stored only as a hash,
expiring after API_TOKEN_TTL_HOURS, revoked by logging out or in Django admin; the plain tokens
of DRF's authtoken are rehashed by a migration."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken

from tests.factories import api_token

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests/factories.py

LOGIN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/token/logout/"
LOGOUT_ALL = "/api/v1/auth/token/logout-all/"
CUSTOMERS = "/api/v1/customers/"


def _log_in(api_client, username="agent", password=PASSWORD, **extra):
    return api_client.post(
        LOGIN, {"username": username, "password": password}, format="json", **extra
    )


def _with(api_client, token: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client


def test_logging_in_issues_a_token_that_authenticates(api_client, agent):
    response = _log_in(api_client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expiry"}
    assert _with(api_client, body["token"]).get(CUSTOMERS).status_code == 200


def test_a_wrong_password_gets_no_token(api_client, agent):
    response = _log_in(api_client, password="wrong")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert AuthToken.objects.count() == 0


def test_an_inactive_user_gets_no_token_and_their_tokens_stop_working(api_client, agent):
    token = api_token(agent)
    agent.is_active = False
    agent.save()
    assert _log_in(api_client).status_code == 400
    assert _with(api_client, token).get(CUSTOMERS).status_code == 401


def test_only_a_hash_of_the_token_is_stored(api_client, agent):
    token = _log_in(api_client).json()["token"]
    [row] = AuthToken.objects.values()
    assert token not in {str(value) for value in row.values()}
    assert row["digest"] == hashlib.sha512(token.encode()).hexdigest()
    assert token.startswith(row["token_key"]) and len(row["token_key"]) < len(token) // 4


def test_a_token_expires_after_the_configured_lifetime(api_client, agent, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        body = _log_in(api_client).json()
    assert parse_datetime(body["expiry"]) == start + timedelta(hours=2)
    _with(api_client, body["token"])
    with time_machine.travel(start + timedelta(hours=2) - timedelta(seconds=1), tick=False):
        assert api_client.get(CUSTOMERS).status_code == 200
    with time_machine.travel(start + timedelta(hours=2, seconds=1), tick=False):
        assert api_client.get(CUSTOMERS).status_code == 401
    assert AuthToken.objects.count() == 0  # an expired token is deleted when it is shown


def test_using_a_token_does_not_extend_it(api_client, agent):
    token = api_token(agent)
    expiry = AuthToken.objects.get().expiry
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert _with(api_client, token).get(CUSTOMERS).status_code == 200
    assert AuthToken.objects.get().expiry == expiry


def _settings_in_a_new_process(**env: str) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.REST_KNOX['TOKEN_TTL'])"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "memorycrm.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_token_lifetime_is_read_from_api_token_ttl_hours():
    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(hours=24)  # the default
    result = _settings_in_a_new_process(API_TOKEN_TTL_HOURS="3")
    assert result.stdout.strip() == "3:00:00", result.stderr[-2000:]
    refused = _settings_in_a_new_process(API_TOKEN_TTL_HOURS="0")
    assert refused.returncode != 0
    assert "API_TOKEN_TTL_HOURS must be at least 1" in refused.stderr


def test_logging_out_revokes_only_the_token_sent(api_client, agent):
    kept, revoked = api_token(agent), api_token(agent)
    assert _with(api_client, revoked).post(LOGOUT).status_code == 204
    assert api_client.get(CUSTOMERS).status_code == 401
    assert _with(api_client, kept).get(CUSTOMERS).status_code == 200


def test_logging_out_everywhere_revokes_every_token_of_the_user(api_client, agent, manager):
    first, second, theirs = api_token(agent), api_token(agent), api_token(manager)
    assert _with(api_client, first).post(LOGOUT_ALL).status_code == 204
    assert _with(api_client, second).get(CUSTOMERS).status_code == 401
    assert _with(api_client, theirs).get(CUSTOMERS).status_code == 200


def test_logging_out_without_a_token_says_what_to_send(agent_api):
    response = agent_api.post(LOGOUT)
    assert response.status_code == 400
    assert "Authorization: Token" in response.json()["detail"]


def test_logging_out_needs_a_valid_token(api_client):
    assert api_client.post(LOGOUT).status_code == 401
    assert _with(api_client, "0" * 64).post(LOGOUT_ALL).status_code == 401


# --- The lockout covers the token log-in ---------------------------------------------------


def test_wrong_passwords_lock_the_token_login_with_a_json_429(api_client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert _log_in(api_client, password="wrong").status_code == 400
    assert _log_in(api_client, password="wrong").status_code == 429  # the limit: locked
    response = _log_in(api_client)  # the right password, not even checked
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert "temporarily locked" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert AuthToken.objects.count() == 0


def test_failures_on_the_token_login_lock_the_log_in_page(client, api_client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        _log_in(api_client, password="wrong")
    response = client.post("/accounts/login/", {"username": "agent", "password": PASSWORD})
    assert response.status_code == 429


def test_a_successful_token_login_resets_the_failure_count(api_client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        _log_in(api_client, password="wrong")
    assert _log_in(api_client).status_code == 201
    for _ in range(2):
        _log_in(api_client, password="wrong")
    assert _log_in(api_client).status_code == 201


# --- Django admin: list, issue, revoke -------------------------------------------------------


def test_admin_issues_an_expiring_token_and_shows_it_once(client, admin_user, agent, api_client):
    client.force_login(admin_user)
    response = client.post(reverse("admin:knox_authtoken_add"), {"user": agent.pk}, follow=True)
    [message] = [str(m) for m in response.context["messages"] if "new token" in str(m)]
    token = message.rsplit(": ", 1)[1]
    assert _with(api_client, token).get(CUSTOMERS).status_code == 200
    row = AuthToken.objects.get()
    assert abs(row.expiry - row.created - settings.REST_KNOX["TOKEN_TTL"]) < timedelta(seconds=5)
    changelist = client.get(reverse("admin:knox_authtoken_changelist")).content.decode()
    assert "agent" in changelist
    assert token not in changelist


def test_admin_revokes_a_token(client, admin_user, agent, api_client):
    token = api_token(agent)
    row = AuthToken.objects.get()
    client.force_login(admin_user)
    client.post(reverse("admin:knox_authtoken_delete", args=[row.pk]), {"post": "yes"})
    assert _with(api_client, token).get(CUSTOMERS).status_code == 401


def test_the_admin_role_manages_tokens_and_the_manager_role_does_not(admin_user, manager):
    admin_user.is_superuser = False
    admin_user.save()
    for perm in ("view", "add", "delete"):
        assert admin_user.has_perm(f"knox.{perm}_authtoken")
        assert not manager.has_perm(f"knox.{perm}_authtoken")
    assert not admin_user.has_perm("knox.change_authtoken")


# --- Migration from DRF's plain tokens --------------------------------------------------------


def test_plain_tokens_are_rehashed_and_their_table_dropped(api_client, agent):
    migration = importlib.import_module("memorycrm.migrations.0002_hashed_api_tokens")
    plain = "0123456789abcdef0123456789abcdef01234567"  # a DRF authtoken key: 40 hex digits
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer NOT NULL)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s)", [plain, agent.pk])
    moved = migration.rehash_plain_tokens(apps, SimpleNamespace(connection=connection))
    assert moved == 1
    assert "authtoken_token" not in connection.introspection.table_names()
    row = AuthToken.objects.get()
    assert plain not in (row.digest, row.token_key)
    assert abs(row.expiry - timezone.now() - settings.REST_KNOX["TOKEN_TTL"]) < timedelta(seconds=5)
    assert _with(api_client, plain).get(CUSTOMERS).status_code == 200  # clients keep working
    with time_machine.travel(row.expiry + timedelta(seconds=1)):
        assert api_client.get(CUSTOMERS).status_code == 401  # until the lifetime is over


def test_the_rehash_does_nothing_where_authtoken_never_ran(agent):
    migration = importlib.import_module("memorycrm.migrations.0002_hashed_api_tokens")
    assert migration.rehash_plain_tokens(apps, SimpleNamespace(connection=connection)) == 0

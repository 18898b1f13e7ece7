"""Several web processes (gunicorn with three workers, as the Procfile's `web`) and CACHE_URL on
Redis: the public pages' rate limit is one budget per client across the processes, and a log-in
lockout earned on some processes holds on all. Real gunicorn, real Redis (db 9), requests over
HTTP, each on a new connection, several at once so that every process takes some."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from tests import hosts

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("redis-9"),  # tests/test_ops.py uses it too
]

CACHE_URL = "redis://127.0.0.1:6379/9"
WORKERS = 3


@pytest.fixture
def web(tmp_path):
    client = redis.Redis.from_url(CACHE_URL)
    client.flushdb()
    process, url = hosts.start_gunicorn(
        tmp_path,
        {
            "CACHE_URL": CACHE_URL,
            "SURVEY_RATE_LIMIT_PER_MINUTE": "6",
            "LOGIN_FAILURE_LIMIT": "3",
        },
        workers=WORKERS,
    )
    yield url
    process.stop()
    client.flushdb()
    client.close()


def in_parallel(requests: list) -> list[httpx.Response]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda send: send(), requests))


def test_the_public_pages_rate_limit_is_one_budget_across_web_processes(web):
    second = time.time() % 60
    if second > 50:  # the budget is per minute: not across a window's end
        time.sleep(61 - second)
    responses = in_parallel([lambda: httpx.get(f"{web}/s/no-such-token/")] * 15)
    statuses = [response.status_code for response in responses]
    assert len({response.headers["X-Served-By"] for response in responses}) > 1
    # Six answers (404: the token is unknown), then 429s: per process, each would allow six.
    assert statuses.count(404) == 6
    assert statuses.count(429) == 9


def test_a_login_lockout_holds_on_every_web_process(web, agent):
    page = httpx.get(f"{web}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def log_in(password: str):
        return lambda: httpx.post(
            f"{web}/accounts/login/",
            data={"username": agent.username, "password": password, "csrfmiddlewaretoken": token},
            cookies=page.cookies,
        )

    failures = in_parallel([log_in("wrong")] * 3)
    # The form again twice; the third failure locks the account (LOGIN_FAILURE_LIMIT).
    assert sorted(response.status_code for response in failures) == [200, 200, 429]
    attempts = in_parallel([log_in("pw-for-tests")] * (2 * WORKERS))
    assert len({response.headers["X-Served-By"] for response in attempts}) > 1
    assert {response.status_code for response in attempts} == {429}
    assert all("temporarily locked" in response.text for response in attempts)

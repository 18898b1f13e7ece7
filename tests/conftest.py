import os
import shutil

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.cluster import Cluster
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", role="Agent")


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role="Manager")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role="Admin", is_staff=True, is_superuser=True)


@pytest.fixture
def no_role_user(db):
    """Logged in, but in no role: sees nothing."""
    return UserFactory(username="norole")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def agent_api(api_client, agent):
    api_client.force_authenticate(agent)
    return api_client


@pytest.fixture
def manager_api(api_client, manager):
    api_client.force_authenticate(manager)
    return api_client


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Ada Lovelace", email="ada@example.com", company="Analytical")


@pytest.fixture
def owned_visibility(settings):
    """Agents see only the customers they own (MEMORYCRM_CUSTOMER_VISIBILITY=owned)."""
    settings.CUSTOMER_VISIBILITY = "owned"


# Data migrations whose rows (roles and permissions, journey stages, the tag taxonomy, the
# default survey and rules) the tests rely on. Their forward code is idempotent.
REFERENCE_MIGRATIONS = [
    "customers.migrations.0002_stages_and_roles",
    "moments.migrations.0002_sentiment_roles",
    "moments.migrations.0004_memory_taxonomy_and_roles",
    "surveys.migrations.0002_default_survey_and_roles",
    "surveys.migrations.0005_recalibration_roles",
    "interventions.migrations.0002_default_rules_and_roles",
    "memorycrm.audit.migrations.0001_roles",
]
# Migrations whose roles' grants (their GRANTS) are replayed, but not the rest of their code
# (a one-time move of old rows).
REFERENCE_GRANTS = ["memorycrm.migrations.0002_hashed_api_tokens"]


def seed_reference_data() -> None:
    """Run the data migrations' forward code again."""
    import importlib

    from auditlog.context import disable_auditlog
    from django.apps import apps
    from django.db.migrations.operations import RunPython

    from memorycrm.lib.roles import grant

    # Migrations write no audit entries (historical models): neither does their replay.
    with disable_auditlog():
        for name in REFERENCE_MIGRATIONS:
            for operation in importlib.import_module(name).Migration.operations:
                if isinstance(operation, RunPython):
                    operation.code(apps, None)
        for name in REFERENCE_GRANTS:
            grant(apps, None, importlib.import_module(name).GRANTS)


# Read before pytest-django swaps in the test database's name.
_CONFIGURED_DB_NAME = settings.DATABASES["default"]["NAME"]


@pytest.fixture(scope="session", autouse=True)
def _reference_data_in_reused_db(django_db_setup, django_db_blocker):
    """A transactional test of an earlier run (--reuse-db) may have emptied the tables."""
    from django.db import connection

    if connection.settings_dict["NAME"] == _CONFIGURED_DB_NAME:
        return  # no selected test uses the database: pytest-django set up no test database
    with django_db_blocker.unblock():
        seed_reference_data()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests (live server, real worker) empty every table when they end, data
    migrations' rows included: put them back before each one."""
    if not ({"transactional_db", "live_server"} & set(request.fixturenames)) and not any(
        m.kwargs.get("transaction") for m in request.node.iter_markers("django_db")
    ):
        return
    request.getfixturevalue("transactional_db")
    seed_reference_data()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the (per-process) cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- SMTP (a real aiosmtpd server on a free port) ----------------------------------------------


class SmtpSink:
    """What an aiosmtpd server received: each message parsed (email.policy.default), with the
    envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((message, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server (aiosmtpd) on a free local port, with Django's SMTP backend pointed
    at it; stopped after the test. ``smtp_sink.messages``: [(parsed message, recipients)]."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    sink.port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


# --- Browser (Playwright driving Debian's Chromium) -------------------------------------------
# One browser for the whole session, shared by every test module that asks for `page`.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    """Never skipped: without Chromium the browser tests fail and say how to install it."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure-chromium.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_errors():
    """Console errors, uncaught exceptions and failed requests seen by `page`/`phone_page`."""
    return []


def _watch(page, errors: list) -> None:
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))


@pytest.fixture
def page(browser, page_errors):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _watch(page, page_errors)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, page_errors):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    _watch(page, page_errors)
    yield page
    context.close()


# --- Real django-q2 clusters (@pytest.mark.cluster; tests/cluster.py) -------------------------


@pytest.fixture
def start_cluster(tmp_path):
    """start_cluster(name="qcluster", **Cluster kwargs) starts `manage.py qcluster` on the test
    database; every cluster started is stopped at teardown, before pytest-django empties the
    tables it is connected to."""
    started: list[Cluster] = []

    def start(name: str = "qcluster", **kwargs) -> Cluster:
        cluster = Cluster(tmp_path / f"{name}.log", **kwargs)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def cluster(start_cluster):
    """One worker with the project's settings; its log in tmp_path / "qcluster.log"."""
    return start_cluster()


@pytest.fixture
def start_hosts(start_cluster, tmp_path):
    """start_hosts(**Cluster kwargs): one cluster, or TEST_WORKER_HOSTS of them, each with a data
    directory of its own (as on separate hosts; the scaled CI pass runs two, on Redis). Returns
    the first; all share `mail_dir`, so its `emails()` are everyone's."""
    from tests.hosts import worker_hosts

    def start(**kwargs) -> Cluster:
        started = []
        for host in range(worker_hosts()):
            name = "qcluster" if host == 0 else f"qcluster-host-{host}"
            env = {} if host == 0 else {"MEMORYCRM_DATA_DIR": str(tmp_path / f"host-{host}")}
            started.append(start_cluster(name, **kwargs | env))
        return started[0]

    return start


@pytest.fixture
def mail_cluster(start_hosts, tmp_path):
    """One worker (one per host: `start_hosts`) whose emails are files in tmp_path / "mail"
    (`cluster.emails()`)."""
    return start_hosts(mail_dir=tmp_path / "mail", LOG_LEVEL="WARNING")


# --- IMAP (a real Dovecot, tests/dovecot.py) -------------------------------------------------
@pytest.fixture(scope="session")
def dovecot():
    """One Dovecot for the session, on a free port; each test takes an account of its own."""
    from tests.dovecot import Dovecot

    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def imap_account(dovecot, monkeypatch):
    """A fresh, empty mail account: (username, password, name of the env var holding it)."""
    username, password = dovecot.add_user()
    env = f"TEST_MAILBOX_PASSWORD_{username.upper()}"
    monkeypatch.setenv(env, password)
    return username, password, env

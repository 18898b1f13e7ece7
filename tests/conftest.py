import pytest
from rest_framework.test import APIClient

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


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests (live server, real worker) empty every table when they end, data
    migrations' rows included; put the roles and journey stages back before each one."""
    if not ({"transactional_db", "live_server"} & set(request.fixturenames)) and not any(
        m.kwargs.get("transaction") for m in request.node.iter_markers("django_db")
    ):
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from django.apps import apps

    migration = importlib.import_module("customers.migrations.0002_stages_and_roles")
    migration.seed_stages(apps, None)
    migration.grant(apps, None, migration.GRANTS)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the (per-process) cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()

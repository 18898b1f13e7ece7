"""Django admin for rules: a webhook's signing secret is shown only to who may change the rule."""

import pytest

from interventions import conditions as cond
from interventions.models import Rule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-signing-value"


@pytest.fixture
def hook():
    return Rule.objects.create(
        name="Hook",
        slug="hook",
        event=cond.INTERACTION_LOGGED,
        action="webhook",
        action_config={"url": "https://hooks.example.com/crm", "secret": SECRET},
    )


def test_a_manager_sees_the_rule_without_its_secret(client, hook):
    client.force_login(UserFactory(username="boss", role="Manager", is_staff=True))
    response = client.get(f"/admin/interventions/rule/{hook.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "hooks.example.com/crm" in html
    assert SECRET not in html
    assert "***" in html


def test_a_manager_does_not_see_the_secret_in_the_rule_list_or_history(client, hook):
    client.force_login(UserFactory(username="boss", role="Manager", is_staff=True))
    for url in ("/admin/interventions/rule/", f"/admin/interventions/rule/{hook.pk}/history/"):
        response = client.get(url)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()


def test_an_admin_may_still_change_the_secret(client, admin_user, hook):
    client.force_login(admin_user)
    response = client.get(f"/admin/interventions/rule/{hook.pk}/change/")
    assert SECRET in response.content.decode()

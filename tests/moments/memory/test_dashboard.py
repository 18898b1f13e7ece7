"""The managers' journey map: heatmap, filters, cell drill-down, memory at risk, query counts."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from moments.memory import selectors as memory_selectors
from moments.memory import selectors_journey
from moments.memory import services as memory_services
from moments.models import CustomerMemory
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, stage, tag

pytestmark = pytest.mark.django_db

URL = reverse("journey-map")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _moment(customer=None, *, score=-0.9, days_ago=1, **kwargs):
    if "body" in kwargs:
        kwargs["body"] = long_text(kwargs["body"])
    interaction = ScoredInteractionFactory(
        customer=customer or CustomerFactory(),
        sentiment_score=score,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        **kwargs,
    )
    return memory_services.detect_moments(interaction_ids=[interaction.pk])[0]


def test_heatmap_counts_and_impacts_by_stage_and_tag(manager, manager_client):
    _moment(body="Charged twice", stage=stage("complaint"))
    _moment(body="Overcharged again", stage=stage("complaint"))
    _moment(score=0.95, stage=stage("delivery"))
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=manager)
    cell = heatmap.cell(stage("complaint").pk, tag("billing-shock").pk)
    assert cell.count == 2
    assert cell.mean_impact < 0
    assert cell.remembered_impact < 0
    assert abs(cell.remembered_impact) <= abs(cell.mean_impact)  # recall <= 1
    untagged = heatmap.cell(stage("delivery").pk, None)
    assert untagged.count == 1 and untagged.mean_impact > 0
    response = manager_client.get(URL)
    assert response.status_code == 200
    assert "Billing shock" in response.text and "Complaint" in response.text


def test_dismissed_moments_are_not_counted(agent, manager):
    moment = _moment(body="Charged twice", stage=stage("complaint"))
    memory_services.dismiss_moment(moment=moment, user=agent, reason="test call")
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=manager)
    assert heatmap.cells == {}


def test_filter_by_polarity_and_dates(manager, manager_client):
    _moment(body="Charged twice", stage=stage("complaint"), days_ago=40)
    _moment(score=0.95, stage=stage("complaint"), days_ago=1)
    flt = selectors_journey.HeatmapFilter(polarity="positive")
    heatmap = selectors_journey.journey_heatmap(flt, user=manager)
    assert [c.count for c in heatmap.cells.values()] == [1]
    flt = selectors_journey.HeatmapFilter(date_to=date.today() - timedelta(days=30))
    cells = selectors_journey.journey_heatmap(flt, user=manager).cells
    assert list(cells) == [(stage("complaint").pk, tag("billing-shock").pk)]
    response = manager_client.get(URL, {"polarity": "positive"}, **HTMX)
    assert response.status_code == 200
    assert 'id="journey-map"' in response.text
    # The map, the weekly trend (the dates move its weeks) and the at-risk list beside it.
    assert "Moments per week" in response.text
    assert "<html" not in response.text


def test_invalid_filter_shows_the_error(manager_client):
    response = manager_client.get(URL, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 200
    assert "The start date is after the end date." in response.text


def test_cell_lists_its_moments(manager_client):
    moment = _moment(body="Charged twice", stage=stage("complaint"))
    _moment(body="Still waiting", stage=stage("complaint"))
    url = reverse("journey-cell", args=[stage("complaint").pk, tag("billing-shock").pk])
    response = manager_client.get(url, **HTMX)
    assert response.status_code == 200
    assert moment.customer.name in response.text
    assert response.text.count("<tr class=") == 1


def test_untagged_cell(manager_client):
    moment = _moment(score=0.95, stage=stage("delivery"))
    response = manager_client.get(reverse("journey-cell", args=[stage("delivery").pk, 0]))
    assert moment.customer.name in response.text


def test_unknown_cell_is_404(manager_client):
    assert manager_client.get(reverse("journey-cell", args=[999, 0])).status_code == 404
    url = reverse("journey-cell", args=[stage("delivery").pk, 9999])
    assert manager_client.get(url).status_code == 404


def test_cell_hides_customers_the_user_may_not_see(client, owned_visibility):
    # A user with the dashboard permission but only their own customers (owned visibility).
    from django.contrib.auth.models import Permission

    user = UserFactory(role="Agent")
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(user)
    hidden = _moment(CustomerFactory(owner=UserFactory(role="Agent")), body="Charged twice")
    url = reverse("journey-cell", args=[hidden.stage_id, tag("billing-shock").pk])
    assert hidden.customer.name not in client.get(url).text


def _dashboard_agent(client):
    """An agent given the dashboard permission, logged in (owned visibility: sees only the
    customers they own)."""
    from django.contrib.auth.models import Permission

    user = UserFactory(role="Agent")
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(user)
    return user


def test_heatmap_counts_only_the_customers_an_agent_may_see(client, owned_visibility, manager):
    user = _dashboard_agent(client)
    mine = CustomerFactory(owner=user)
    _moment(mine, body="Charged twice", stage=stage("complaint"))
    for _ in range(3):
        other = CustomerFactory(owner=UserFactory(role="Agent"))
        _moment(other, body="Charged twice", stage=stage("complaint"))
    _moment(CustomerFactory(), score=0.95, stage=stage("delivery"))  # nobody's
    key = (stage("complaint").pk, tag("billing-shock").pk)

    theirs = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=user)
    assert {k: c.count for k, c in theirs.cells.items()} == {key: 1}
    everyone = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=manager)
    assert everyone.cells[key].count == 4
    assert everyone.cell(stage("delivery").pk, None).count == 1
    api = APIClient()
    api.force_authenticate(user)
    cells = api.get("/api/v1/journey-heatmap/").json()["cells"]
    assert [(c["stage"], c["tag"], c["count"]) for c in cells] == [(*key, 1)]
    page = client.get(URL).text
    assert "Complaint, tagged Billing shock: 1 moment that damages" in page
    assert "4 moments" not in page
    assert "1 moment in the 12 weeks" in page  # the weekly trend is scoped the same way


def test_heatmap_with_owned_visibility_off_shows_agents_everything(client, manager):
    user = _dashboard_agent(client)
    _moment(CustomerFactory(owner=UserFactory(role="Agent")), body="Charged twice")
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=user)
    assert sum(c.count for c in heatmap.cells.values()) == 1


def test_heatmap_is_empty_for_someone_who_sees_no_customer(manager):
    _moment(body="Charged twice")
    nobody = UserFactory()  # no role: sees no customer
    heatmap = selectors_journey.journey_heatmap(selectors_journey.HeatmapFilter(), user=nobody)
    assert heatmap.cells == {}


def test_scoped_heatmap_query_count_does_not_grow_with_data(client, owned_visibility):
    user = _dashboard_agent(client)
    _moment(CustomerFactory(owner=user), body="Charged twice", stage=stage("complaint"))
    few = _count(client, URL)
    for i in range(10):
        _moment(CustomerFactory(owner=user), score=0.9, days_ago=i, stage=stage("delivery"))
        _moment(CustomerFactory(), body="Still waiting", stage=stage("complaint"))
    assert _count(client, URL) == few


def test_dashboard_is_for_managers(agent_client):
    assert agent_client.get(URL).status_code == 403


def test_dashboard_anonymous_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_wrong_method_is_405(manager_client):
    assert manager_client.post(URL).status_code == 405
    url = reverse("journey-cell", args=[stage("delivery").pk, 0])
    assert manager_client.post(url).status_code == 405


def test_memory_at_risk_lists_negative_and_falling(manager_client):
    falling = CustomerFactory(name="Falling Fiona")
    _moment(falling, score=0.9, days_ago=60)
    _moment(falling, score=-0.95, days_ago=1, body="You promised a call back")
    steady = CustomerFactory(name="Happy Harry")
    _moment(steady, score=0.95, days_ago=2)
    assert CustomerMemory.objects.get(customer=falling).at_risk
    assert not CustomerMemory.objects.get(customer=steady).at_risk
    response = manager_client.get(URL)
    assert "Falling Fiona" in response.text
    assert "Happy Harry" not in response.text


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_dashboard_query_count_does_not_grow_with_data(manager_client):
    _moment(body="Charged twice", stage=stage("complaint"))
    few = _count(manager_client, URL)
    for i, (slug, text) in enumerate(
        [("complaint", "Still waiting"), ("delivery", "Arrived early"), ("renewal", "")] * 5
    ):
        customer = CustomerFactory()
        _moment(customer, score=0.9, days_ago=60 + i, stage=stage(slug))
        _moment(customer, score=-0.95, days_ago=1, body=text or "You promised", stage=stage(slug))
    assert CustomerMemory.objects.filter(at_risk=True).count() > 1
    assert _count(manager_client, URL) == few


def test_cell_query_count_does_not_grow_with_data(manager_client):
    _moment(body="Charged twice", stage=stage("complaint"))
    url = reverse("journey-cell", args=[stage("complaint").pk, tag("billing-shock").pk])
    few = _count(manager_client, url)
    for _ in range(10):
        _moment(body="Charged twice. Still waiting.", stage=stage("complaint"))
    assert _count(manager_client, url) == few


def test_memory_at_risk_is_scoped_to_visible_customers(owned_visibility):
    mine_owner = UserFactory(role="Agent")
    theirs = CustomerFactory(name="Not Mine", owner=UserFactory(role="Agent"))
    mine = CustomerFactory(name="Mine", owner=mine_owner)
    for customer in (mine, theirs):
        _moment(customer, score=0.9, days_ago=60)
        _moment(customer, score=-0.95, days_ago=1)
    assert [m.customer.name for m in memory_selectors.memory_at_risk(mine_owner)] == ["Mine"]
    manager = UserFactory(role="Manager")
    assert {m.customer.name for m in memory_selectors.memory_at_risk(manager)} == {
        "Mine",
        "Not Mine",
    }
    assert memory_selectors.memory_at_risk(UserFactory()) == []


def test_cell_lists_the_strongest_moments_first(manager):
    weak = _moment(score=-0.65, body="Charged twice", stage=stage("complaint"))
    strong = _moment(score=-0.99, body="Charged twice", stage=stage("complaint"))
    moments = selectors_journey.cell_moments(
        manager,
        stage=stage("complaint"),
        tag=tag("billing-shock"),
        flt=selectors_journey.HeatmapFilter(),
    )
    assert [m.pk for m in moments] == [strong.pk, weak.pk]

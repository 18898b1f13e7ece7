"""Agents' moment actions on the timeline (HTMX), the customer page's marker and panel."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from moments.memory import services as memory_services
from moments.models import Moment
from tests.factories import CustomerFactory, UserFactory
from tests.moments.factories import ScoredInteractionFactory, long_text, tag

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def interaction(customer):
    return ScoredInteractionFactory(customer=customer, sentiment_score=0.1, subject="Hello")


@pytest.fixture
def moment(interaction, agent):
    return memory_services.promote_interaction(interaction=interaction, user=agent)


def _promote_url(interaction):
    return reverse("moment-promote", args=[interaction.pk])


# --- Promote --------------------------------------------------------------------------------


def test_agent_promotes_an_interaction_in_one_click(agent_client, interaction):
    response = agent_client.post(_promote_url(interaction), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger-After-Settle"] == "memory-changed"
    assert f'id="moment-marker-{interaction.pk}"' in response.text
    assert "★ Moment" in response.text
    moment = Moment.objects.get(interaction=interaction)
    assert moment.reason_codes == ["agent"]
    assert moment.detected_by == "agent"
    assert moment.created_by.username == "agent"


def test_promote_with_a_tag(agent_client, interaction):
    agent_client.post(_promote_url(interaction), {"tag": tag("empathy-win").pk}, **HTMX)
    moment = Moment.objects.get(interaction=interaction)
    assert [t.slug for t in moment.tags.all()] == ["empathy-win"]
    assert moment.polarity == "positive"  # the text is flat; the tag says which way
    assert moment.impact > 0


def test_promote_without_htmx_redirects_to_the_timeline(agent_client, interaction):
    response = agent_client.post(_promote_url(interaction))
    assert response.status_code == 302
    assert response["Location"].endswith(
        f"/customers/{interaction.customer_id}/#interaction-{interaction.pk}"
    )
    assert Moment.objects.filter(interaction=interaction).exists()


def test_promote_another_agents_customer_is_404(agent_client, owned_visibility):
    other = ScoredInteractionFactory(customer=CustomerFactory(owner=UserFactory(role="Agent")))
    assert agent_client.post(_promote_url(other), **HTMX).status_code == 404
    assert not Moment.objects.exists()


def test_promote_unknown_interaction_is_404(agent_client):
    assert agent_client.post(reverse("moment-promote", args=[999999])).status_code == 404


def test_promote_needs_post(agent_client, interaction):
    assert agent_client.get(_promote_url(interaction)).status_code == 405


def test_promote_anonymous_goes_to_login(client, interaction):
    response = client.post(_promote_url(interaction))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_promote_needs_the_permission(client, no_role_user, interaction):
    client.force_login(no_role_user)
    assert client.post(_promote_url(interaction)).status_code == 403


def test_promote_a_dismissed_moment_restores_it(agent_client, moment, agent):
    memory_services.dismiss_moment(moment=moment, user=agent, reason="noise")
    agent_client.post(_promote_url(moment.interaction), **HTMX)
    moment.refresh_from_db()
    assert not moment.dismissed and moment.dismissed_reason == ""


# --- Tags -----------------------------------------------------------------------------------


def test_agent_adds_a_tag(agent_client, moment):
    url = reverse("moment-tag-add", args=[moment.pk])
    response = agent_client.post(url, {"tag": tag("long-wait").pk}, **HTMX)
    assert response.status_code == 200
    assert "Long wait" in response.text
    assert [t.slug for t in moment.tags.all()] == ["long-wait"]
    moment.refresh_from_db()
    assert moment.polarity == "negative" and moment.impact < 0


def test_retired_tag_cannot_be_added(agent_client, moment):
    retired = tag("long-wait")
    retired.active = False
    retired.save()
    response = agent_client.post(
        reverse("moment-tag-add", args=[moment.pk]), {"tag": retired.pk}, **HTMX
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert not moment.tags.exists()


def test_retired_tag_stays_on_old_moments(agent_client, moment, agent):
    memory_services.add_tag(moment=moment, tag=tag("long-wait"), user=agent)
    retired = tag("long-wait")
    retired.active = False
    retired.save()
    response = agent_client.get(moment.customer.get_absolute_url())
    assert "Long wait (retired)" in response.text
    assert moment.tags.get() == retired


def test_agent_removes_a_tag(agent_client, moment, agent):
    memory_services.add_tag(moment=moment, tag=tag("long-wait"), user=agent)
    url = reverse("moment-tag-remove", args=[moment.pk, tag("long-wait").pk])
    response = agent_client.post(url, **HTMX)
    assert response.status_code == 200
    assert not moment.tags.exists()


def test_remove_a_tag_the_moment_does_not_have_is_404(agent_client, moment):
    url = reverse("moment-tag-remove", args=[moment.pk, tag("long-wait").pk])
    assert agent_client.post(url, **HTMX).status_code == 404


def test_tag_another_agents_moment_is_404(agent_client, owned_visibility):
    owner = UserFactory(role="Agent")
    other = ScoredInteractionFactory(customer=CustomerFactory(owner=owner))
    moment = memory_services.promote_interaction(interaction=other, user=owner)
    url = reverse("moment-tag-add", args=[moment.pk])
    assert agent_client.post(url, {"tag": tag("long-wait").pk}).status_code == 404


def test_tag_views_need_post(agent_client, moment):
    assert agent_client.get(reverse("moment-tag-add", args=[moment.pk])).status_code == 405
    url = reverse("moment-tag-remove", args=[moment.pk, tag("long-wait").pk])
    assert agent_client.get(url).status_code == 405


def test_tag_anonymous_goes_to_login(client, moment):
    response = client.post(reverse("moment-tag-add", args=[moment.pk]))
    assert response["Location"].startswith(reverse("login"))


# --- Dismiss --------------------------------------------------------------------------------


def test_dismiss_asks_for_a_reason_then_dismisses(agent_client, moment):
    url = reverse("moment-dismiss", args=[moment.pk])
    form = agent_client.get(url, **HTMX)
    assert 'name="reason"' in form.text
    response = agent_client.post(url, {"reason": "Sarcasm, not anger"}, **HTMX)
    assert response.status_code == 200
    assert "Dismissed: Sarcasm, not anger" in response.text
    moment.refresh_from_db()
    assert moment.dismissed
    assert moment.dismissed_by.username == "agent"
    assert moment.dismissed_at is not None


def test_dismiss_without_reason_shows_the_error(agent_client, moment):
    response = agent_client.post(reverse("moment-dismiss", args=[moment.pk]), {}, **HTMX)
    assert response.status_code == 200
    assert "Say why the moment is dismissed." in response.text
    moment.refresh_from_db()
    assert not moment.dismissed


def test_dismiss_page_works_without_javascript(agent_client, moment):
    url = reverse("moment-dismiss", args=[moment.pk])
    assert "Dismiss moment" in agent_client.get(url).text
    response = agent_client.post(url, {"reason": "duplicate"})
    assert response.status_code == 302


def test_dismiss_another_agents_moment_is_404(agent_client, owned_visibility):
    owner = UserFactory(role="Agent")
    other = ScoredInteractionFactory(customer=CustomerFactory(owner=owner))
    moment = memory_services.promote_interaction(interaction=other, user=owner)
    url = reverse("moment-dismiss", args=[moment.pk])
    assert agent_client.post(url, {"reason": "x"}).status_code == 404
    assert agent_client.get(reverse("moment-dismiss", args=[999999])).status_code == 404


def test_dismiss_wrong_method_is_405(agent_client, moment):
    assert agent_client.delete(reverse("moment-dismiss", args=[moment.pk])).status_code == 405


def test_dismiss_anonymous_goes_to_login(client, moment):
    response = client.get(reverse("moment-dismiss", args=[moment.pk]))
    assert response["Location"].startswith(reverse("login"))


def test_dismissed_moment_stops_counting_in_the_balance(moment, agent):
    memory_services.add_tag(moment=moment, tag=tag("broken-promise"), user=agent)
    assert moment.customer.memory.balance < 0
    memory_services.dismiss_moment(moment=moment, user=agent, reason="wrong customer")
    moment.customer.memory.refresh_from_db()
    assert moment.customer.memory.balance == 0


# --- Customer page --------------------------------------------------------------------------


def test_customer_page_marks_moments_and_shows_the_panel(agent_client, customer, agent):
    plain = ScoredInteractionFactory(customer=customer, subject="Just a note")
    marked = ScoredInteractionFactory(
        customer=customer, sentiment_score=-0.9, subject="Charged twice for my order"
    )
    memory_services.detect_moments(interaction_ids=[plain.pk, marked.pk])
    response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    text = response.text
    assert "What they will remember" in text
    assert "Charged twice for my order" in text
    assert text.count("★ Moment") == 1
    assert "☆ Mark as moment" in text
    assert "Billing shock" in text


def test_customer_page_query_count_does_not_grow_with_moments(agent_client, customer, agent):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(customer.get_absolute_url()).status_code == 200
        return len(queries)

    def add(n: int, start: int) -> None:
        for i in range(n):
            interaction = ScoredInteractionFactory(
                customer=customer,
                sentiment_score=-0.9,
                occurred_at=timezone.now() - timedelta(days=start + i),
                body=long_text("Charged twice for one order, and nobody answers my emails."),
            )
            memory_services.detect_moments(interaction_ids=[interaction.pk])

    add(2, 0)
    count_queries()  # warm: the memory parameters in use are read once, then cached
    few = count_queries()
    add(10, 40)  # 10 more moments, a budget window apart from the first two
    assert Moment.objects.filter(customer=customer).count() > 2
    assert count_queries() == few


def test_memory_panel_view(agent_client, moment):
    response = agent_client.get(reverse("customer-memory", args=[moment.customer_id]))
    assert response.status_code == 200
    assert 'id="memory-panel"' in response.text
    assert "Hello" in response.text


def test_memory_panel_of_another_agents_customer_is_404(agent_client, owned_visibility):
    other = CustomerFactory(owner=UserFactory(role="Agent"))
    assert agent_client.get(reverse("customer-memory", args=[other.pk])).status_code == 404


def test_memory_panel_needs_get(agent_client, customer):
    assert agent_client.post(reverse("customer-memory", args=[customer.pk])).status_code == 405


def test_memory_panel_anonymous_goes_to_login(client, customer):
    response = client.get(reverse("customer-memory", args=[customer.pk]))
    assert response["Location"].startswith(reverse("login"))


def test_panel_lists_highest_recall_first(agent_client, customer, agent):
    old = ScoredInteractionFactory(
        customer=customer,
        subject="Old praise",
        sentiment_score=0.9,
        occurred_at=timezone.now() - timedelta(days=200),
    )
    new = ScoredInteractionFactory(
        customer=customer,
        subject="Fresh complaint",
        sentiment_score=-0.9,
        occurred_at=timezone.now() - timedelta(days=1),
    )
    memory_services.detect_moments(interaction_ids=[old.pk, new.pk])
    text = agent_client.get(reverse("customer-memory", args=[customer.pk])).text
    assert text.index("Fresh complaint") < text.index("Old praise")


def test_error_without_javascript_comes_back_as_a_message(agent_client, interaction):
    retired = tag("long-wait")
    retired.active = False
    retired.save()
    response = agent_client.post(_promote_url(interaction), {"tag": retired.pk}, follow=True)
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not Moment.objects.exists()


def test_memory_panel_shows_each_remembered_moments_tags(agent_client, interaction, agent):
    memory_services.promote_interaction(
        interaction=interaction, user=agent, tags=[tag("long-wait"), tag("empathy-win")]
    )
    response = agent_client.get(reverse("customer-memory", args=[interaction.customer_id]))
    assert response.status_code == 200
    chips = response.text.split('class="memory-top"', 1)[1]
    assert chips.count('class="moment-tag"') == 2
    assert "Long wait" in chips

"""Taxonomy seeding, roles, the admin for tags/rules/moments, and the scheduled refresh."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from moments.memory import services as memory_services
from moments.memory import tasks as memory_tasks
from moments.models import CustomerMemory, Moment, MomentTag, TagCategory, TagRule
from tests.factories import UserFactory
from tests.moments.factories import ScoredInteractionFactory, tag

pytestmark = pytest.mark.django_db

TEN = {
    "empathy-win": "positive",
    "surprise-gesture": "positive",
    "escalation-recovery": "positive",
    "fast-resolution": "positive",
    "personal-thank-you": "positive",
    "broken-promise": "negative",
    "long-wait": "negative",
    "repeated-contact": "negative",
    "billing-shock": "negative",
    "delivery-delight": "positive",
}


def test_default_taxonomy_is_seeded():
    tags = {t.slug: t for t in MomentTag.objects.all()}
    assert {slug: t.polarity for slug, t in tags.items()} == TEN
    assert all(t.weight > 0 and t.colour.startswith("#") and t.active for t in tags.values())
    assert TagCategory.objects.count() == 5
    assert TagRule.objects.filter(active=True).count() >= 5


def test_roles_get_their_permissions(agent, manager, admin_user):
    assert agent.has_perms(
        ["moments.add_moment", "moments.change_moment", "moments.view_momenttag"]
    )
    assert not agent.has_perm("moments.view_dashboard")
    assert not agent.has_perm("moments.change_momenttag")
    assert manager.has_perm("moments.view_dashboard")
    staff_admin = UserFactory(username="taxonomist", role="Admin", is_staff=True)
    assert staff_admin.has_perms(["moments.change_momenttag", "moments.add_tagrule"])


def test_admin_pages_load(client, admin_user, agent):
    interaction = ScoredInteractionFactory(sentiment_score=-0.9)
    moment = memory_services.promote_interaction(
        interaction=interaction, user=agent, tags=[tag("long-wait")]
    )
    client.force_login(admin_user)
    for name in ["momenttag", "tagcategory", "tagrule", "moment", "customermemory"]:
        response = client.get(reverse(f"admin:moments_{name}_changelist"))
        assert response.status_code == 200, name
    response = client.get(reverse("admin:moments_moment_change", args=[moment.pk]))
    assert response.status_code == 200
    assert (
        client.get(reverse("admin:moments_momenttag_changelist"), {"q": "wait"}).status_code == 200
    )


def test_admin_retires_tags_and_they_stay_on_moments(client, admin_user, agent):
    moment = memory_services.promote_interaction(
        interaction=ScoredInteractionFactory(), user=agent, tags=[tag("long-wait")]
    )
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:moments_momenttag_changelist"),
        {"action": "retire", "_selected_action": [tag("long-wait").pk]},
    )
    assert response.status_code == 302
    assert not tag("long-wait").active
    assert list(moment.tags.values_list("slug", flat=True)) == ["long-wait"]
    assert tag("long-wait") not in MomentTag.objects.active()


def test_admin_reweighting_changes_impact_at_next_refresh(agent):
    moment = memory_services.promote_interaction(
        interaction=ScoredInteractionFactory(sentiment_score=-0.9),
        user=agent,
        tags=[tag("long-wait")],
    )
    before = moment.impact
    MomentTag.objects.filter(slug="long-wait").update(weight=5.0)
    memory_tasks.refresh_all_memory()
    moment.refresh_from_db()
    assert moment.impact < before < 0


def test_scheduled_refresh_lets_memories_fade(agent):
    interaction = ScoredInteractionFactory(sentiment_score=-0.9, occurred_at=timezone.now())
    moment = memory_services.promote_interaction(interaction=interaction, user=agent)
    balance = CustomerMemory.objects.get(customer=moment.customer).balance
    with time_machine.travel(timezone.now() + timedelta(days=60), tick=False):
        assert memory_tasks.refresh_all_memory() == {"customers": 1}
    moment.refresh_from_db()
    faded = CustomerMemory.objects.get(customer=moment.customer).balance
    assert moment.recall_now < 1
    assert balance < faded < 0


def test_ensure_memory_schedule_command():
    out = StringIO()
    call_command("ensure_memory_schedule", stdout=out)
    call_command("ensure_memory_schedule", stdout=out)
    from django_q.models import Schedule

    assert Schedule.objects.filter(name=memory_tasks.REFRESH_NAME).count() == 1


def test_one_moment_per_interaction(agent):
    interaction = ScoredInteractionFactory(sentiment_score=-0.9)
    first = memory_services.promote_interaction(interaction=interaction, user=agent)
    again = memory_services.promote_interaction(interaction=interaction, user=agent)
    assert first.pk == again.pk
    assert Moment.objects.filter(interaction=interaction).count() == 1

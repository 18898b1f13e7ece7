"""Slots (memorycrm/lib/slots.py): the extension points through which moments, surveys and
interventions show their parts on the customer pages and in the nav, which know none of them."""

from __future__ import annotations

import pytest
from django.contrib.auth.context_processors import PermWrapper
from django.template import Context, Template
from django.urls import reverse

from memorycrm.lib import slots
from tests.moments.factories import ScoredInteractionFactory


def test_every_app_fills_the_slots_from_its_ready():
    assert slots.templates("nav") == [
        "interventions/slots/nav.html",
        "moments/slots/nav.html",
        "surveys/slots/nav.html",
    ]
    assert slots.templates("customer-panels") == [
        "moments/slots/customer_panels.html",
        "surveys/slots/customer_panels.html",
        "interventions/slots/customer_panels.html",
    ]
    assert slots.templates("interaction-tools") == ["moments/slots/interaction_tools.html"]
    assert slots.templates("interaction-foot") == [
        "surveys/slots/interaction_foot.html",
        "interventions/slots/interaction_foot.html",
    ]


def test_registering_again_changes_nothing():
    before = slots.templates("nav")
    slots.register("nav", "moments/slots/nav.html", order=20)
    assert slots.templates("nav") == before


def test_an_unknown_slot_is_an_error():
    with pytest.raises(ValueError, match="Unknown slot 'sidebar'"):
        slots.register("sidebar", "x.html")
    with pytest.raises(ValueError, match="Unknown slot"):
        Template('{% load slots %}{% slot "sidebar" %}').render(Context())


def test_a_slot_renders_its_fillers_with_the_page_context(rf, manager):
    request = rf.get("/")
    request.user = manager
    html = Template('{% load slots %}{% slot "nav" %}').render(
        Context({"request": request, "user": manager, "perms": PermWrapper(manager)})
    )
    assert 'href="/moments/journey/"' in html
    assert "Forecast quality" in html
    assert "Rules" in html


@pytest.mark.django_db
def test_customer_page_shows_every_apps_parts(manager_client, customer):
    interaction = ScoredInteractionFactory(customer=customer)
    html = manager_client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert 'id="memory-panel"' in html  # moments
    assert f'id="sentiment-{interaction.pk}"' in html
    assert f'id="moment-marker-{interaction.pk}"' in html
    assert "What stood out" in html  # surveys
    assert f'id="survey-invite-{interaction.pk}"' in html
    assert 'href="/interventions/"' in html  # interventions (nav)

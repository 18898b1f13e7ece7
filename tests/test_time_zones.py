"""Times in the agent's own zone: the browser names it once (static/js/timezone.js sets the
`tz` cookie), and every page then shows and reads times in it, with the zone named."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"


def _prefill(html: str) -> datetime:
    value = re.search(r'name="occurred_at" value="([^"]+)"', html).group(1)
    return datetime.fromisoformat(value)


def test_the_log_form_prefills_the_agents_local_time(agent_client, customer):
    agent_client.cookies["tz"] = LA
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    la_now = timezone.now().astimezone(ZoneInfo(LA)).replace(tzinfo=None)
    assert abs(_prefill(html) - la_now) < timedelta(minutes=2)


def test_a_time_typed_in_is_read_in_the_agents_zone(agent_client, customer):
    agent_client.cookies["tz"] = LA
    agent_client.post(
        f"{customer.get_absolute_url()}interactions/",
        {
            "channel": "call",
            "direction": "inbound",
            "occurred_at": "2026-07-01T09:30",
            "subject": "Call back",
            "body": "Asked about the refund.",
        },
    )
    interaction = customer.interactions.get()
    assert interaction.occurred_at == datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo(LA))


def test_pages_name_the_zone_their_times_are_in(agent_client, customer):
    agent_client.cookies["tz"] = LA
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "Times in America/Los_Angeles" in html
    assert "js/timezone.js" in html


@pytest.mark.parametrize("cookie", ["Mars/Olympus", "../../etc/passwd", "x" * 300, ""])
def test_an_unknown_zone_falls_back_to_the_servers(agent_client, customer, settings, cookie):
    agent_client.cookies["tz"] = cookie
    response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    assert f"Times in {settings.TIME_ZONE}" in response.content.decode()


# --- The user's own choice (memorycrm.models.UserSettings) -----------------------------------

TOKYO = "Asia/Tokyo"
ZONE_PAGE = "/accounts/time-zone/"


def test_a_saved_zone_wins_over_the_browsers(agent_client, customer):
    agent_client.cookies["tz"] = LA
    response = agent_client.post(ZONE_PAGE, {"time_zone": TOKYO})
    assert response.status_code == 302
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "Times in Asia/Tokyo (your choice)" in html
    tokyo_now = timezone.now().astimezone(ZoneInfo(TOKYO)).replace(tzinfo=None)
    assert abs(_prefill(html) - tokyo_now) < timedelta(minutes=2)


def test_the_saved_zone_follows_the_user_to_another_device(client, agent, customer):
    from memorycrm.models import UserSettings

    UserSettings.objects.create(user=agent, time_zone=TOKYO)
    client.cookies["tz"] = LA  # the new device's browser says Los Angeles
    client.force_login(agent)  # signing in reads the saved choice
    html = client.get(customer.get_absolute_url()).content.decode()
    assert "Times in Asia/Tokyo (your choice)" in html


def test_choosing_the_browser_zone_again_follows_the_cookie(agent_client, agent, customer):
    agent_client.post(ZONE_PAGE, {"time_zone": TOKYO})
    agent_client.post(ZONE_PAGE, {"time_zone": ""})
    agent_client.cookies["tz"] = LA
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "Times in America/Los_Angeles." in html
    assert agent.app_settings.time_zone == ""


def test_an_unknown_zone_is_refused_with_a_message(agent_client, agent):
    response = agent_client.post(ZONE_PAGE, {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not hasattr(agent, "app_settings") or agent.app_settings.time_zone == ""


def test_the_zone_page_names_the_browsers_zone_and_is_linked_from_every_page(
    agent_client, customer
):
    agent_client.cookies["tz"] = LA
    page = agent_client.get(ZONE_PAGE).content.decode()
    assert "My browser&#x27;s zone (America/Los_Angeles)" in page
    html = agent_client.get(customer.get_absolute_url()).content.decode()
    assert f'href="{ZONE_PAGE}?next=' in html


def test_the_zone_page_goes_back_only_to_this_site(agent_client):
    response = agent_client.post(ZONE_PAGE, {"time_zone": TOKYO, "next": "https://evil.example/"})
    assert response["Location"] == ZONE_PAGE
    response = agent_client.post(ZONE_PAGE, {"time_zone": TOKYO, "next": "/tasks/"})
    assert response["Location"] == "/tasks/"


def test_the_zone_page_needs_a_login_and_get_or_post(agent_client):
    from django.test import Client

    assert Client().get(ZONE_PAGE)["Location"].startswith("/accounts/login/")
    assert agent_client.put(ZONE_PAGE).status_code == 405

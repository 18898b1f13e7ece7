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

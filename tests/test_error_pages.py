"""Error pages: a refused page is a page of the app (nav, which role it needs, a way back);
the API's refusals stay JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_refused_page_has_the_layout_and_says_which_role_it_needs(agent_client):
    response = agent_client.get(reverse("import-list"))  # a manager's page
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<nav id="main-nav" class="nav" aria-label="Main">' in html
    assert "css/app.css" in html
    assert "This page is for Managers and Admins" in html
    assert "You are signed in as agent (Agent)" in html
    assert f'href="{reverse("customer-list")}"' in html


def test_a_refused_page_without_a_known_role_still_explains(client, no_role_user):
    client.force_login(no_role_user)
    response = client.get(reverse("customer-list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "This page is for Agents, Managers and Admins" in html
    assert "You have no role yet" in html
    assert "css/app.css" in html


def test_a_refused_api_call_stays_json(agent_client):
    response = agent_client.get("/api/v1/rules/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()

"""The forecast quality page and API (managers): AUC of forecast recall vs "picked" and the
calibration by decile, computed by moments.memory.fitting on the answers' evidence; an empty
state in words until there is enough evidence."""

import dataclasses

import pytest

from moments.memory import fitting, forecast_quality, parameters, simulation

URL = "/surveys/forecast/"
API = "/api/v1/forecast-quality/"


@pytest.fixture
def answers(store_evidence):
    return store_evidence(
        simulation.simulate(60, params=parameters.current(), pick_rate=0.6, seed=11)
    )


def test_the_page_shows_the_auc_fitting_computes_on_the_same_evidence(manager_client, answers):
    page = manager_client.get(URL)
    assert page.status_code == 200
    expected = forecast_quality.forecast_auc(answers, parameters.current())
    quality = page.context["quality"]
    assert quality.auc == pytest.approx(expected, abs=1e-12)
    assert quality.n_answers == 60
    assert f"AUC {expected:.3f}" in page.content.decode()


def test_the_page_shows_the_calibration_by_decile(manager_client, answers):
    page = manager_client.get(URL)
    rows = page.context["quality"].calibration
    pick_rate = page.context["quality"].pick_rate
    assert rows == forecast_quality.calibration(answers, parameters.current(), pick_rate=pick_rate)
    assert [r.decile for r in rows] == list(range(1, 11))
    assert 'id="forecast-calibration"' in page.content.decode()


def test_the_api_gives_the_same_figures(manager_api, answers):
    data = manager_api.get(API).json()
    assert data["ready"] is True
    assert data["auc"] == pytest.approx(
        forecast_quality.forecast_auc(answers, parameters.current())
    )
    assert data["n_answers"] == 60
    assert len(data["calibration"]) == 10
    assert data["applied_fit"] is None


def test_without_enough_evidence_the_page_says_so(manager_client, store_evidence):
    store_evidence(simulation.simulate(4, params=parameters.current(), pick_rate=0.6, seed=1))
    page = manager_client.get(URL)
    body = page.content.decode()
    assert "Not enough evidence yet: 4 survey answer(s) offered moments" in body
    assert 'id="forecast-calibration"' not in body


def test_without_enough_evidence_the_api_says_so(manager_api):
    data = manager_api.get(API).json()
    assert data["ready"] is False
    assert data["auc"] is None
    assert "Not enough evidence yet" in data["problem"]


def test_answers_where_nobody_picked_anything_give_no_verdict(manager_client, store_evidence):
    answers = simulation.simulate(40, params=parameters.current(), pick_rate=0.01, seed=2)
    none_picked = [
        fitting.Answer(tuple(dataclasses.replace(c, picked=False) for c in a.candidates))
        for a in answers
    ]
    store_evidence(none_picked)
    body = manager_client.get(URL).content.decode()
    assert "cannot yet tell remembered moments from forgotten ones" in body


def test_the_manager_nav_links_the_page(manager_client):
    assert f'href="{URL}"' in manager_client.get("/customers/").content.decode()


def test_the_agent_nav_does_not(agent_client):
    assert f'href="{URL}"' not in agent_client.get("/customers/").content.decode()


def test_an_agent_gets_403(agent_client, agent_api, answers):
    assert agent_client.get(URL).status_code == 403
    assert agent_api.get(API).status_code == 403


def test_anonymous_is_sent_to_login(client):
    page = client.get(URL)
    assert page.status_code == 302
    assert "/login/" in page["Location"]


def test_post_is_not_allowed(manager_client):
    assert manager_client.post(URL).status_code == 405


def test_the_api_is_in_the_schema(manager_api):
    schema = manager_api.get("/api/schema/?format=json").json()
    assert "/api/v1/forecast-quality/" in schema["paths"]
    ok = schema["paths"]["/api/v1/forecast-quality/"]["get"]["responses"]["200"]
    # One report object, not a list of them.
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ForecastQuality"
    }

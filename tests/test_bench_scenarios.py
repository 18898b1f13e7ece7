"""The hand-labelled journeys of bench/moments.py keep the shape and the labelling rules that
make its figures meaningful (bench/scenarios/README.md): routine contact dominates, about one
interaction in ten is memorable, and only the customer's own words can be."""

import json
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parent.parent / "bench" / "scenarios"
STAGES = {"onboarding", "purchase", "delivery", "support", "complaint", "renewal", None}
FILES = {  # file: (at least journeys, at least interactions)
    "moments.json": (30, 240),
    "moments_holdout.json": (10, 70),
}


@pytest.fixture(params=list(FILES))
def scenario(request):
    return request.param, json.loads((SCENARIOS / request.param).read_text())


def _interactions(data):
    return [i for j in data["journeys"] for i in j["interactions"]]


def test_size_and_routine_share(scenario):
    name, data = scenario
    journeys, interactions = FILES[name]
    items = _interactions(data)

    assert len(data["journeys"]) >= journeys
    assert len(items) >= interactions
    assert 0.08 <= sum(i["memorable"] for i in items) / len(items) <= 0.15


def test_only_the_customers_own_words_are_memorable(scenario):
    _, data = scenario
    for item in _interactions(data):
        if item["direction"] != "inbound":
            assert not item["memorable"], item["key"]


def test_labels_and_fields_are_consistent(scenario):
    _, data = scenario
    keys = [i["key"] for i in _interactions(data)]
    assert len(keys) == len(set(keys))
    for journey in data["journeys"]:
        memorable = {i["key"] for i in journey["interactions"] if i["memorable"]}
        if memorable:
            assert journey["most_memorable"] in memorable, journey["key"]
        else:
            assert journey["most_memorable"] is None, journey["key"]
        times = [i["occurred_at"] for i in journey["interactions"]]
        assert times == sorted(times), journey["key"]
        for item in journey["interactions"]:
            assert item["stage"] in STAGES, item["key"]
            assert item["occurred_at"] < data["as_of"], item["key"]

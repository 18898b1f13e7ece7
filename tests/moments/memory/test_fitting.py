"""The memory forecast's fit to survey picks (moments/memory/fitting.py): pure code, no database.

Simulated customers whose picks follow known parameters are the ground truth: the fit must
recover the parameters within their standard errors and forecast as well as the truth does;
evidence that cannot support a fit must say why.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from moments.memory import fitting, forecast_quality, scoring, simulation
from moments.memory.fitting import Answer, Candidate, FitError

# Far from every starting point of the fit, and from the product's defaults.
TRUE = scoring.MemoryParams(
    base_stability_days=12.0,
    intensity_gain=2.5,
    impact_gain=0.6,
    loss_aversion=2.5,
    refresh_boost=3.0,
)
TRUE_PICK_RATE = 0.7


def _true_value(name: str) -> float:
    return TRUE_PICK_RATE if name == fitting.PICK_RATE else getattr(TRUE, name)


@pytest.fixture(scope="module")
def recovered() -> fitting.FitResult:
    # One start (the product's defaults) keeps this test at a few seconds; the bench uses all.
    answers = simulation.simulate(800, params=TRUE, pick_rate=TRUE_PICK_RATE, seed=11)
    return fitting.fit(answers, standard_errors=True, starts=fitting.STARTS[:1])


def test_fit_recovers_known_parameters_within_three_standard_errors(recovered):
    assert recovered.converged, recovered.message
    assert recovered.at_bound == ()
    for name in fitting.PARAMETERS:
        error = recovered.standard_errors[name]
        assert error is not None and error > 0, name
        assert abs(recovered.values[name] - _true_value(name)) <= 3 * error, (
            name,
            recovered.values[name],
            error,
        )


def test_fit_pins_down_the_well_identified_parameters(recovered):
    # Stability, refresh boost and pick rate shape every forecast: 800 answers fix them well.
    # (Loss aversion only acts through log(1 + |impact|): its error is large, and says so.)
    for name in ("base_stability_days", "refresh_boost", fitting.PICK_RATE):
        assert recovered.standard_errors[name] < 0.25 * _true_value(name), name
    assert recovered.params == dataclasses.replace(
        scoring.MemoryParams(), **{k: recovered.values[k] for k in fitting.MEMORY_PARAMETERS}
    )


def test_fitted_forecast_ranks_new_answers_as_well_as_the_truth(recovered):
    held_out = simulation.simulate(800, params=TRUE, pick_rate=TRUE_PICK_RATE, seed=12)

    oracle = forecast_quality.forecast_auc(held_out, TRUE)
    fitted = forecast_quality.forecast_auc(held_out, recovered.params)

    assert oracle - fitted <= 0.01
    assert fitting.log_likelihood(
        held_out, recovered.params, pick_rate=recovered.pick_rate
    ) > fitting.log_likelihood(held_out, scoring.MemoryParams(), pick_rate=TRUE_PICK_RATE)


def test_fit_beats_the_null_model(recovered):
    assert recovered.log_likelihood > recovered.null_log_likelihood
    assert recovered.n_answers == 800
    assert 0 < recovered.n_picked < recovered.n_candidates


def test_fit_is_deterministic_and_keeps_fixed_parameters():
    answers = simulation.simulate(150, params=TRUE, pick_rate=TRUE_PICK_RATE, seed=3)
    fixed = {name: getattr(TRUE, name) for name in fitting.MEMORY_PARAMETERS}

    first = fitting.fit(answers, fixed=fixed)
    second = fitting.fit(answers, fixed=fixed)

    assert first.values == second.values
    assert first.fixed == tuple(sorted(fixed))
    assert {k: first.values[k] for k in fixed} == fixed
    assert first.pick_rate == pytest.approx(TRUE_PICK_RATE, abs=0.08)


def test_forecast_recall_is_the_products_forecast():
    # The fit scores exactly what moments.memory.scoring stores on a moment, refreshes included.
    occurred = datetime(2025, 3, 1, tzinfo=UTC)
    candidate = Candidate(
        age_days=40.0,
        intensity=0.6,
        polarity="negative",
        tag_weights=(2.5, 1.5),
        stage_weight=1.5,
        refresh_ages=(10.0, 25.0),
    )
    impact = scoring.impact(
        tag_weights=[2.5, 1.5], intensity=0.6, stage_weight=1.5, polarity="negative", params=TRUE
    )
    stored = scoring.forecast(
        occurred_at=occurred,
        now=occurred + timedelta(days=40),
        intensity=0.6,
        impact=impact,
        refreshed_at=[occurred + timedelta(days=10), occurred + timedelta(days=25)],
        params=TRUE,
    )

    assert fitting.forecast_recall(candidate, TRUE) == pytest.approx(stored.now)


def test_calibration_of_the_true_forecast_matches_what_customers_pick():
    answers = simulation.simulate(1500, params=TRUE, pick_rate=TRUE_PICK_RATE, seed=5)

    rows = forecast_quality.calibration(answers, TRUE, pick_rate=TRUE_PICK_RATE)

    assert [r.decile for r in rows] == list(range(1, 11))
    assert sum(r.n for r in rows) == sum(len(a.candidates) for a in answers)
    assert all(a.forecast_high <= b.forecast_low for a, b in zip(rows, rows[1:], strict=False))
    for row in rows:
        assert row.observed_rate == pytest.approx(row.predicted_rate, abs=0.06), row


def test_answers_round_trip_through_plain_data():
    answers = simulation.simulate(5, params=TRUE, pick_rate=TRUE_PICK_RATE, seed=1)
    data = json.loads(json.dumps([dataclasses.asdict(a) for a in answers]))

    assert fitting.answers_from_data(data) == answers


# --- Evidence that cannot be fitted ---------------------------------------------------------


def _answers(n: int, *, picked) -> list[Answer]:
    return [
        Answer(
            (
                Candidate(age_days=3.0, intensity=0.5, polarity="positive", picked=picked(i)),
                Candidate(age_days=90.0, intensity=0.2, polarity="negative", picked=False),
            )
        )
        for i in range(n)
    ]


def test_no_answers_is_a_clear_error():
    with pytest.raises(FitError, match="no survey answers"):
        fitting.fit([])
    with pytest.raises(FitError, match="no survey answers"):
        fitting.fit([Answer(())] * 50)


def test_too_few_answers_is_a_clear_error():
    with pytest.raises(FitError, match="12 answer.*at least 30"):
        fitting.fit(_answers(12, picked=lambda i: i % 2 == 0))


def test_picks_that_separate_nothing_are_a_clear_error():
    with pytest.raises(FitError, match="no candidate moment was picked"):
        fitting.fit(_answers(40, picked=lambda i: False))
    everything = [
        Answer(tuple(dataclasses.replace(c, picked=True) for c in a.candidates))
        for a in _answers(40, picked=lambda i: True)
    ]
    with pytest.raises(FitError, match="every candidate moment was picked"):
        fitting.fit(everything)
    with pytest.raises(FitError, match="no candidate moment was picked"):
        forecast_quality.forecast_auc(_answers(3, picked=lambda i: False), TRUE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age_days": -1.0}, "age_days is negative"),
        ({"age_days": math.nan}, "a number is not finite"),
        ({"intensity": 1.5}, r"intensity must be in \[0, 1\]"),
        ({"polarity": "furious"}, "polarity must be one of"),
        ({"tag_weights": (-2.0,)}, "weights cannot be negative"),
        ({"refresh_ages": (math.inf,)}, "a number is not finite"),
    ],
)
def test_a_bad_value_names_its_answer_and_candidate(change, message):
    answers = _answers(40, picked=lambda i: i % 2 == 0)
    bad = answers[7].candidates
    answers[7] = Answer((bad[0], dataclasses.replace(bad[1], **change)))

    with pytest.raises(FitError, match=rf"answer 7, candidate 1: {message}"):
        fitting.fit(answers)


NEUTRAL = {"age_days": 3, "intensity": 0.5, "polarity": "neutral"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"answers": []}], 'answer 0: an answer must be an object with "candidates"'),
        ([{"candidates": [{"age_days": 1, "intensity": 0.5}]}], "needs polarity"),
        ([{"candidates": [{"age_days": "3", "intensity": 0.5, "polarity": "neutral"}]}], "number"),
        ([{"candidates": [{**NEUTRAL, "x": 1}]}], "unknown candidate field"),
        ([{"candidates": [{**NEUTRAL, "picked": 1}]}], "picked must be true or false"),
        ([{"candidates": "none"}], "candidates must be a list"),
    ],
)
def test_malformed_plain_data_is_a_clear_error(data, message):
    with pytest.raises(FitError, match=message):
        fitting.answers_from_data(data)


def test_fixed_parameters_are_checked():
    answers = _answers(40, picked=lambda i: i % 2 == 0)
    with pytest.raises(FitError, match="unknown parameter"):
        fitting.fit(answers, fixed={"peak_weight": 0.5})
    with pytest.raises(FitError, match="outside"):
        fitting.fit(answers, fixed={"refresh_boost": 0.5})
    with pytest.raises(FitError, match="every parameter is fixed"):
        fitting.fit(answers, fixed={n: _true_value(n) for n in fitting.PARAMETERS})

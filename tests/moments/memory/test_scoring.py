"""The memory model's pure functions (moments/memory/scoring.py): the behaviour the issue pins."""

from datetime import UTC, datetime, timedelta

import pytest

from moments.memory import scoring
from moments.memory.scoring import MemoryParams, Remembered

P = MemoryParams()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _stab(intensity: float, impact: float = 0.0) -> float:
    return scoring.stability(intensity=intensity, impact=impact, params=P)


def test_intensity_is_score_times_confidence():
    assert scoring.intensity(-0.8, 0.5) == pytest.approx(0.4)
    assert scoring.intensity(None, 0.9) == 0.0


def test_polarity_follows_clear_sentiment_else_tags():
    assert scoring.polarity(0.7, neutral_band=0.2) == "positive"
    assert scoring.polarity(-0.7, neutral_band=0.2, tag_polarities=["positive"]) == "negative"
    assert (
        scoring.polarity(0.05, neutral_band=0.2, tag_polarities=["negative", "either"])
        == "negative"
    )
    assert (
        scoring.polarity(0.05, neutral_band=0.2, tag_polarities=["negative", "positive"])
        == "neutral"
    )


def test_negative_moment_weighs_loss_aversion_times_more():
    kwargs = {"tag_weights": [1.0], "intensity": 0.5, "stage_weight": 1.0, "params": P}
    positive = scoring.impact(polarity="positive", **kwargs)
    negative = scoring.impact(polarity="negative", **kwargs)
    assert positive == pytest.approx(1.0)  # (1 + 1) x 0.5 x 1
    assert negative == pytest.approx(-positive * P.loss_aversion)


def test_impact_grows_with_tag_weights_and_stage_weight():
    base = {"intensity": 0.5, "polarity": "positive", "params": P}
    assert scoring.impact(tag_weights=[2.0], stage_weight=1.0, **base) > scoring.impact(
        tag_weights=[1.0], stage_weight=1.0, **base
    )
    assert scoring.impact(tag_weights=[], stage_weight=1.5, **base) == pytest.approx(0.75)


def test_neutral_moment_has_no_impact():
    assert (
        scoring.impact(tag_weights=[3], intensity=0.9, stage_weight=1, polarity="neutral", params=P)
        == 0
    )


def test_stronger_moment_is_remembered_longer():
    weak, strong = _stab(0.2, 0.3), _stab(0.9, 3.0)
    assert strong > weak
    for days in (7, 30, 365):
        assert scoring.recall(age_days=days, stability_days=strong, params=P) > scoring.recall(
            age_days=days, stability_days=weak, params=P
        )


def test_recall_is_full_at_the_moment_and_fades():
    s = _stab(0.5)
    values = [scoring.recall(age_days=d, stability_days=s, params=P) for d in (0, 7, 30, 365)]
    assert values[0] == 1.0
    assert values == sorted(values, reverse=True)
    assert scoring.recall(age_days=s, stability_days=s, params=P) == pytest.approx(1 / 2.718281828)


def test_refresh_raises_recall():
    s = _stab(0.5, 1.0)
    plain = scoring.recall(age_days=60, stability_days=s, params=P)
    refreshed = scoring.recall(age_days=60, stability_days=s, refresh_ages=[20], params=P)
    assert refreshed > plain


def test_refresh_slows_forgetting_afterwards():
    s = _stab(0.5)
    # Same time since the last reminder, but a refreshed memory has a longer stability.
    once = scoring.recall(age_days=40, stability_days=s, refresh_ages=[30], params=P)
    fresh = scoring.recall(age_days=10, stability_days=s, params=P)
    assert once > fresh


def test_future_refresh_does_not_count():
    s = _stab(0.5)
    assert scoring.recall(age_days=10, stability_days=s, refresh_ages=[20], params=P) == (
        scoring.recall(age_days=10, stability_days=s, params=P)
    )


def test_forecast_horizons_are_ordered():
    f = scoring.forecast(
        occurred_at=T0, now=T0 + timedelta(days=3), intensity=0.6, impact=1.5, params=P
    )
    assert 1 >= f.now > f.at_7 > f.at_30 > f.at_365 > 0


def _m(day: int, impact: float) -> Remembered:
    return Remembered(
        occurred_at=T0 + timedelta(days=day),
        impact=impact,
        stability_days=scoring.stability(intensity=0.8, impact=abs(impact), params=P),
    )


def test_balance_is_zero_without_moments():
    assert scoring.balance([], at=T0, params=P) == 0.0


def test_positive_after_negative_peak_lifts_less_than_peak_lowered():
    magnitude = 1.0
    neg = _m(0, -magnitude * P.loss_aversion)
    pos = _m(1, magnitude)
    at = T0 + timedelta(days=1)
    before = scoring.balance([], at=at, params=P)
    after_peak = scoring.balance([neg], at=at, params=P)
    after_both = scoring.balance([neg, pos], at=at, params=P)
    lowered = before - after_peak
    lifted = after_both - after_peak
    assert lowered > 0 and lifted > 0
    assert lifted < lowered


def test_recent_moment_counts_more_than_an_equal_older_one():
    at = T0 + timedelta(days=10)
    old_bad = scoring.balance([_m(0, -1.0), _m(9, 1.0)], at=at, params=P)
    old_good = scoring.balance([_m(0, 1.0), _m(9, -1.0)], at=at, params=P)
    # The end (most recent) dominates when the peaks are alike.
    assert old_bad > 0 > old_good


def test_forgotten_moments_do_not_count():
    m = _m(0, -2.0)
    assert scoring.balance([m], at=T0 + timedelta(days=3650), params=P) == 0.0


def test_negative_and_falling_is_at_risk():
    moments = [_m(0, 1.0), _m(40, -2.0)]
    state = scoring.balance_state(moments, now=T0 + timedelta(days=41), params=P)
    assert state.balance < 0
    assert state.trend < 0
    assert state.at_risk


def test_negative_but_improving_is_not_at_risk():
    moments = [_m(0, -2.0), _m(40, 1.5)]
    state = scoring.balance_state(moments, now=T0 + timedelta(days=41), params=P)
    assert state.trend > 0
    assert not state.at_risk


def test_params_from_settings(settings):
    settings.MEMORY_LOSS_AVERSION = 3.0
    assert MemoryParams.from_settings().loss_aversion == 3.0


def test_promoted_or_tagged_moment_has_at_least_the_floor_intensity():
    assert scoring.moment_intensity(0.05, 0.9, vouched=True, floor=0.5) == 0.5
    assert scoring.moment_intensity(0.05, 0.9, vouched=False, floor=0.5) == pytest.approx(0.045)
    assert scoring.moment_intensity(-0.9, 1.0, vouched=True, floor=0.5) == pytest.approx(0.9)
    assert scoring.moment_intensity(None, None, vouched=True, floor=0.5) == 0.5

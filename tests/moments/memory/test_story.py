"""The memory balance told in one sentence (moments/memory/story.py)."""

from datetime import UTC, date, datetime

from moments.memory.story import Weighed, tell

TODAY = date(2026, 12, 3)


def _on(month: int, day: int, contribution: float, year: int = 2026) -> Weighed:
    when = datetime(year, month, day, 12, tzinfo=UTC)
    return Weighed(occurred_at=when, contribution=contribution)


def test_no_moments_says_so():
    story = tell([], balance=0.0, today=TODAY)
    assert story.leaning == "empty"
    assert story.sentence == "No moments yet: nothing memorable detected or tagged."


def test_only_neutral_moments_weigh_nothing():
    story = tell([_on(10, 1, 0.0)], balance=0.0, today=TODAY)
    assert story.leaning == "empty"
    assert "neutral" in story.sentence


def test_balanced_when_the_balance_is_near_zero():
    moments = [_on(10, 1, 0.6), _on(10, 5, -0.3), _on(10, 9, 0.2)]
    story = tell(moments, balance=0.05, today=TODAY)
    assert story.leaning == "balanced"
    assert story.sentence == "Balanced: two good moments and one bad moment weigh about the same."


def test_leaning_positive_by_the_count_of_good_moments():
    moments = [_on(10, 1, 0.5), _on(10, 5, -0.6), _on(10, 9, 0.4), _on(11, 2, 0.5)]
    story = tell(moments, balance=0.4, today=TODAY)
    assert story.leaning == "positive"
    assert story.sentence == "Leaning positive: three good moments outweigh one bad moment."


def test_leaning_negative_by_the_count_of_bad_moments():
    moments = [_on(10, 1, -0.5), _on(10, 5, 0.6), _on(10, 9, -0.4)]
    story = tell(moments, balance=-0.3, today=TODAY)
    assert story.leaning == "negative"
    assert story.sentence == "Leaning negative: two bad moments outweigh one good moment."


def test_one_dominating_peak_is_named_with_its_day():
    moments = [_on(10, 12, -2.5), _on(10, 20, 0.4), _on(11, 1, 0.5), _on(11, 20, 0.3)]
    story = tell(moments, balance=-1.1, today=TODAY)
    assert story.leaning == "negative"
    assert story.sentence == (
        "Leaning negative: one bad peak on 12 Oct outweighs three good moments."
    )


def test_a_peak_of_another_year_names_the_year():
    moments = [_on(12, 20, 2.0, year=2025), _on(1, 5, -0.2)]
    story = tell(moments, balance=0.9, today=TODAY)
    assert story.sentence == (
        "Leaning positive: one good peak on 20 Dec 2025 outweighs one bad moment."
    )


def test_one_side_alone_has_nothing_against_it():
    assert tell([_on(10, 12, -1.0)], balance=-1.0, today=TODAY).sentence == (
        "Leaning negative: one bad moment on 12 Oct, nothing good to weigh against it."
    )
    assert tell([_on(10, 12, 1.0), _on(10, 14, 0.4)], balance=0.8, today=TODAY).sentence == (
        "Leaning positive: two good moments, nothing bad to weigh against them."
    )

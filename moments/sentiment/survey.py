"""A survey answer's sentiment reads its text *and* its rating; when do the two disagree?

Pure functions (no database, no model): the survey scoring calls ``with_rating`` on the text's
score, the memory-gap report calls ``disagree``. Measured on ``labelled/survey_answers.tsv``
(62 answers written for this, CC0) by bench/sentiment.py and tests/moments/test_survey_sentiment.py.

Why combine: "It really surprised me." alone is ambiguous (surprise can be good or bad), and a
model trained on reviews and tweets reads it as mildly negative; with 4/5 next to it the
customer has told us which. The rating is the customer's own verdict, the text its nuance, so
the two are combined as independent opinions (a product of their class probabilities): a text
the model is sure of still wins ("Terrible delivery." rated 4/5 stays negative, and is flagged).
"""

from __future__ import annotations

from .classifier import Score
from .data import LABELS

# A rating at or beyond +-0.5 on [-1, 1] (4/5 or 2/5 on a CSAT scale) is a clear verdict.
CLEAR_RATING = 0.5
# The rating's own probabilities never go below this (a rating can be a mis-click).
RATING_FLOOR = 0.1
# The text must be this sure (P(positive) - P(negative)) to contradict a clear rating.
CLEAR_TEXT = 0.6


def rating_probabilities(rating: float) -> dict[str, float]:
    """The rating (on [-1, 1]) as class probabilities: 4-5/5 positive, 3/5 neutral, 1-2/5
    negative, with RATING_FLOOR left to each class."""
    strength = min(1.0, abs(rating) / CLEAR_RATING)
    raw = {"negative": 0.0, "neutral": 1.0 - strength, "positive": 0.0}
    raw["positive" if rating > 0 else "negative"] += strength
    spread = 1.0 - RATING_FLOOR * len(LABELS)
    return {label: RATING_FLOOR + spread * raw[label] for label in LABELS}


def with_rating(text: Score, rating: float | None) -> Score:
    """The answer's sentiment: the text's probabilities times the rating's, renormalised.
    Without a rating, the text's score unchanged."""
    if rating is None:
        return text
    prior = rating_probabilities(max(-1.0, min(1.0, rating)))
    return Score.from_probabilities(
        {label: text.probabilities[label] * prior[label] for label in LABELS}
    )


def disagree(*, sentiment: float | None, rating: float | None) -> bool:
    """Do a text's signed sentiment and a rating (both on [-1, 1]) truly point opposite ways?
    Both must be clear: a lukewarm text next to a good rating is not a disagreement."""
    if sentiment is None or rating is None:
        return False
    return (
        abs(rating) >= CLEAR_RATING
        and abs(sentiment) >= CLEAR_TEXT
        and (rating > 0) != (sentiment > 0)
    )

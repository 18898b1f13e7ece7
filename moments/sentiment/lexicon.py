"""VADER's lexicon scores as features next to the transformer's embedding.

VADER (vaderSentiment, MIT) is the baseline every figure is compared with; it is also a good
*feature*: its lexicon and rules (negation, "but", intensifiers, emoticons) know things a frozen
MiniLM's mean-pooled vector blurs. The quick model's head reads both (docs/sentiment.md).
Pure Python, about 0.2 ms per short text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

# How much louder the four lexicon features speak than one standardised embedding dimension
# (384 of them): chosen on the dev split, see docs/sentiment.md.
LEXICON_WEIGHT = 3.0
FEATURES = ("neg", "neu", "pos", "compound")


@cache
def analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexicon_scores(texts: Sequence[str]) -> list[list[float]]:
    """VADER's (neg, neu, pos, compound) per text."""
    vader = analyzer()
    out = []
    for text in texts:
        scores = vader.polarity_scores(text)
        out.append([scores[name] for name in FEATURES])
    return out


def vader_label(text: str) -> str:
    # The thresholds VADER's authors recommend for its compound score.
    compound = analyzer().polarity_scores(text)["compound"]
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"

"""The moments app's models, one module per domain; the app label and migrations are those of
the former moments/models.py, and every model is importable from here as before."""

from moments.models.fit_proposals import MemoryFitProposal
from moments.models.memory import (
    WEIGHT_MAX,
    WEIGHT_MIN,
    CustomerMemory,
    Moment,
    MomentQuerySet,
    MomentTag,
    MomentTagging,
    MomentTagQuerySet,
    Polarity,
    TagCategory,
    TagPolarity,
    TagRule,
    colour_validator,
)
from moments.models.rollup import JourneyRollup
from moments.models.sentiment import ScoringRequest, SentimentCorrection, SentimentModel

__all__ = [
    "WEIGHT_MAX",
    "WEIGHT_MIN",
    "CustomerMemory",
    "JourneyRollup",
    "MemoryFitProposal",
    "Moment",
    "MomentQuerySet",
    "MomentTag",
    "MomentTagQuerySet",
    "MomentTagging",
    "Polarity",
    "ScoringRequest",
    "SentimentCorrection",
    "SentimentModel",
    "TagCategory",
    "TagPolarity",
    "TagRule",
    "colour_validator",
]

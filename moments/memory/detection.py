"""Moment detection rules: which of the four reasons make an interaction a moment.

Pure functions over numbers and text; the services (moments.memory.services.detect_moments
for interactions, detect_answer_moments for survey answers) load the text, its score, the
customer's baseline and the tag rules, and store what this returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from moments.models import TagRule

PEAK, SWING, CRITICAL_STAGE, TAG_RULE, AGENT = (
    "peak",
    "swing",
    "critical_stage",
    "tag_rule",
    "agent",
)


@dataclass(frozen=True)
class Thresholds:
    peak: float = 0.6
    swing: float = 0.8
    neutral_band: float = 0.2
    baseline_window: int = 10
    baseline_min: int = 3

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            peak=settings.MEMORY_PEAK_THRESHOLD,
            swing=settings.MEMORY_SWING_THRESHOLD,
            neutral_band=settings.MEMORY_NEUTRAL_BAND,
            baseline_window=settings.MEMORY_BASELINE_WINDOW,
            baseline_min=settings.MEMORY_BASELINE_MIN,
        )


@lru_cache(maxsize=1024)
def _pattern(phrase: str) -> re.Pattern:
    # Whole words, any whitespace between them: "on hold" matches "on  hold", not "moon holder".
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"\b", re.IGNORECASE)


def matching_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase found in the text (case-insensitive, whole words), or None."""
    for phrase in phrases:
        if phrase.strip() and _pattern(phrase.strip()).search(text):
            return phrase.strip()
    return None


def matched_rules(
    text: str, rules: Iterable[TagRule], *, stage_id: int | None
) -> list[tuple[TagRule, str]]:
    """The tag rules that match a text, each with the phrase it matched: rules for any stage,
    and those for ``stage_id`` (the stage of what the text belongs to; None: no stage, so only
    the any-stage rules). Any text: an interaction's, a survey answer's."""
    return [
        (rule, phrase)
        for rule in rules
        if rule.stage_id in (None, stage_id) and (phrase := matching_phrase(text, rule.phrase_list))
    ]


def baseline(previous_scores: Sequence[float], *, minimum: int) -> float | None:
    """The customer's own baseline: the mean of their previous scores (None if too few)."""
    if len(previous_scores) < minimum:
        return None
    return sum(previous_scores) / len(previous_scores)


def reasons(
    *,
    score: float | None,
    confidence: float | None,
    stage_name: str | None,
    stage_is_critical: bool,
    previous_scores: Sequence[float],
    matched_rules: Iterable[tuple[str, str]] = (),
    thresholds: Thresholds,
) -> list[dict]:
    """Why this interaction is a moment, as [{"reason", "detail"}]; empty if it is not.

    ``matched_rules``: (rule name, matched phrase) for the tag rules that matched.
    """
    found: list[dict] = []
    if score is not None:
        conf = 1.0 if confidence is None else confidence
        strength = abs(score) * conf
        if strength >= thresholds.peak:
            found.append(
                {
                    "reason": PEAK,
                    "detail": f"|{score:+.2f}| x {conf:.2f} = {strength:.2f}"
                    f" >= {thresholds.peak:.2f}",
                }
            )
        base = baseline(previous_scores, minimum=thresholds.baseline_min)
        if base is not None and abs(score - base) >= thresholds.swing:
            found.append(
                {
                    "reason": SWING,
                    "detail": f"{score:+.2f} vs baseline {base:+.2f} over the last "
                    f"{len(previous_scores)}: {abs(score - base):.2f} >= {thresholds.swing:.2f}",
                }
            )
        if stage_is_critical and abs(score) >= thresholds.neutral_band:
            found.append(
                {
                    "reason": CRITICAL_STAGE,
                    "detail": f"critical stage {stage_name} with sentiment {score:+.2f}",
                }
            )
    for rule_name, phrase in matched_rules:
        found.append({"reason": TAG_RULE, "detail": f'rule "{rule_name}" matched "{phrase}"'})
    return found


@dataclass(frozen=True)
class Fact:
    """One scored interaction of a customer, as detection sees it."""

    id: int
    occurred_at: datetime
    score: float | None
    confidence: float | None
    stage_name: str | None = None
    stage_is_critical: bool = False
    matched_rules: tuple[tuple[str, str], ...] = ()  # (rule name, matched phrase)


def detect_history(facts: Sequence[Fact], *, thresholds: Thresholds) -> dict[int, list[dict]]:
    """Which of a customer's scored interactions are moments, and why: ``{id: reasons}``.

    ``facts``: every scored interaction of one customer, oldest first. The answer depends only
    on that set, never on the order in which its parts were scored or detected: the services
    run it over the whole history each time one of its interactions is scored.
    """
    found: dict[int, list[dict]] = {}
    scores: list[float] = []  # the scores before the current fact, oldest first
    for fact in facts:
        previous = scores[::-1][: thresholds.baseline_window]
        why = reasons(
            score=fact.score,
            confidence=fact.confidence,
            stage_name=fact.stage_name,
            stage_is_critical=fact.stage_is_critical,
            previous_scores=previous,
            matched_rules=fact.matched_rules,
            thresholds=thresholds,
        )
        if why:
            found[fact.id] = why
        if fact.score is not None:
            scores.append(fact.score)
    return found

"""Moment detection rules: which of the four reasons make an interaction a moment.

Pure functions over numbers and text; the services (moments.memory.services.detect_moments
for interactions, detect_answer_moments for survey answers) load the text, its score, the
customer's baseline and the tag rules, and store what this returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    swing_floor: float = 0.3
    neutral_band: float = 0.2
    baseline_window: int = 10
    baseline_min: int = 3
    full_text_words: int = 40
    critical_stage_boost: float = 1.5
    tag_rule_boost: float = 1.25
    budget: int = 2
    budget_days: int = 30

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            peak=settings.MEMORY_PEAK_THRESHOLD,
            swing=settings.MEMORY_SWING_THRESHOLD,
            swing_floor=settings.MEMORY_SWING_FLOOR,
            neutral_band=settings.MEMORY_NEUTRAL_BAND,
            baseline_window=settings.MEMORY_BASELINE_WINDOW,
            baseline_min=settings.MEMORY_BASELINE_MIN,
            full_text_words=settings.MEMORY_FULL_TEXT_WORDS,
            critical_stage_boost=settings.MEMORY_CRITICAL_STAGE_BOOST,
            tag_rule_boost=settings.MEMORY_TAG_RULE_BOOST,
            budget=settings.MEMORY_BUDGET,
            budget_days=settings.MEMORY_BUDGET_DAYS,
        )


_WORD = re.compile(r"\w+")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


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


@dataclass(frozen=True)
class Weight:
    """How strongly a text is likely to stay with the customer, and why."""

    intensity: float  # |score| x confidence: the sentiment, as sure as the model is
    substance: float  # min(1, words / FULL_TEXT_WORDS): a few words are little evidence
    boost: float  # critical stage x tag rule
    value: float  # intensity x substance x boost


def weigh(
    *,
    score: float,
    confidence: float | None,
    words: int | None,
    stage_is_critical: bool,
    rules_matched: bool,
    thresholds: Thresholds,
) -> Weight:
    intensity = abs(score) * (1.0 if confidence is None else confidence)
    substance = 1.0 if words is None else min(1.0, words / max(1, thresholds.full_text_words))
    boost = (thresholds.critical_stage_boost if stage_is_critical else 1.0) * (
        thresholds.tag_rule_boost if rules_matched else 1.0
    )
    return Weight(intensity, substance, boost, intensity * substance * boost)


def assess(
    *,
    score: float | None,
    confidence: float | None,
    stage_name: str | None,
    stage_is_critical: bool,
    previous_scores: Sequence[float],
    matched_rules: Iterable[tuple[str, str]] = (),
    thresholds: Thresholds,
    words: int | None = None,
) -> tuple[float, list[dict]]:
    """The weight of a customer's text and why it is a moment, as [{"reason", "detail"}]
    (empty if it is not).

    A moment needs emotion in the customer's words: a *peak* (intensity x substance x boosts
    >= PEAK: intensity against the whole population's scale) or a *swing* from the customer's
    own baseline (|score - baseline| >= SWING, with intensity x substance >= SWING_FLOOR). A
    critical stage and a matching tag rule multiply the weight and are named among the
    reasons, but never make a moment of flat text on their own. ``words``: the length of the
    text (None: counts in full). ``matched_rules``: (rule name, matched phrase).
    """
    if score is None:
        return 0.0, []
    rules = list(matched_rules)
    weight = weigh(
        score=score,
        confidence=confidence,
        words=words,
        stage_is_critical=stage_is_critical,
        rules_matched=bool(rules),
        thresholds=thresholds,
    )
    found: list[dict] = []
    if weight.value >= thresholds.peak:
        detail = f"|{score:+.2f}| x {1.0 if confidence is None else confidence:.2f}"
        if weight.substance < 1:
            detail += f" x {weight.substance:.2f} ({words} words)"
        if weight.boost != 1:
            detail += f" x {weight.boost:.2f} (boosts)"
        found.append(
            {"reason": PEAK, "detail": f"{detail} = {weight.value:.2f} >= {thresholds.peak:.2f}"}
        )
    base = baseline(previous_scores, minimum=thresholds.baseline_min)
    if (
        base is not None
        and abs(score - base) >= thresholds.swing
        and weight.intensity * weight.substance >= thresholds.swing_floor
    ):
        found.append(
            {
                "reason": SWING,
                "detail": f"{score:+.2f} vs baseline {base:+.2f} over the last "
                f"{len(previous_scores)}: {abs(score - base):.2f} >= {thresholds.swing:.2f}",
            }
        )
    if not found:
        return weight.value, []
    if stage_is_critical:
        found.append(
            {
                "reason": CRITICAL_STAGE,
                "detail": f"critical stage {stage_name} with sentiment {score:+.2f}: weight "
                f"x {thresholds.critical_stage_boost:.2f}",
            }
        )
    for rule_name, phrase in rules:
        found.append({"reason": TAG_RULE, "detail": f'rule "{rule_name}" matched "{phrase}"'})
    return weight.value, found


def reasons(**kwargs) -> list[dict]:
    """Why a text is a moment (``assess`` without the weight); empty if it is not."""
    return assess(**kwargs)[1]


def answer_reasons(
    *,
    score: float | None,
    confidence: float | None,
    stage_name: str | None,
    stage_is_critical: bool,
    previous_scores: Sequence[float],
    matched_rules: Iterable[tuple[str, str]] = (),
    thresholds: Thresholds,
) -> list[dict]:
    """Why a survey answer is a moment, as [{"reason", "detail"}]; empty if it is not: a
    peak, a critical stage with a non-neutral answer, or a matching tag rule (each on its own:
    the customer was asked what stood out, so what they name stands out). Interactions follow
    ``assess``. ``matched_rules``: (rule name, matched phrase) for the tag rules that matched.
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
    voiced: bool = True  # the customer's own words (inbound), not an agent's reply or note
    words: int | None = None
    stage_name: str | None = None
    stage_is_critical: bool = False
    matched_rules: tuple[tuple[str, str], ...] = ()  # (rule name, matched phrase)


def detect_history(facts: Sequence[Fact], *, thresholds: Thresholds) -> dict[int, list[dict]]:
    """Which of a customer's scored interactions are moments, and why: ``{id: reasons}``.

    ``facts``: every scored interaction of one customer, oldest first. Only the customer's own
    words count: agents' replies and internal notes are never moments and are not part of the
    customer's baseline. Then the budget: at most BUDGET moments in any BUDGET_DAYS, the
    weightiest first, so a chatty customer is not all moments.

    The answer depends only on that set, never on the order in which its parts were scored or
    detected: the services run it over the whole history each time one of it is scored.
    """
    candidates: list[tuple[float, Fact, list[dict]]] = []
    scores: list[float] = []  # the customer's scores before the current fact, oldest first
    for fact in facts:
        if not fact.voiced:
            continue
        weight, why = assess(
            score=fact.score,
            confidence=fact.confidence,
            stage_name=fact.stage_name,
            stage_is_critical=fact.stage_is_critical,
            previous_scores=scores[::-1][: thresholds.baseline_window],
            matched_rules=fact.matched_rules,
            thresholds=thresholds,
            words=fact.words,
        )
        if why:
            candidates.append((weight, fact, why))
        if fact.score is not None:
            scores.append(fact.score)
    window = timedelta(days=thresholds.budget_days)
    kept: list[Fact] = []
    found: dict[int, list[dict]] = {}
    for _weight, fact, why in sorted(candidates, key=lambda c: (-c[0], c[1].occurred_at, c[1].id)):
        near = [k for k in kept if abs(k.occurred_at - fact.occurred_at) < window]
        if len(near) < thresholds.budget:
            kept.append(fact)
            found[fact.id] = why
    return found

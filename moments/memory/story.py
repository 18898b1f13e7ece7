"""A customer's memory balance told in one sentence, for agents: which way it leans and why.

"Memory balance −2.21 · rising" means nothing to an agent; "Leaning negative: one bad peak on
12 Oct outweighs three good moments" does. Pure functions, no database: the summary selector
(moments.memory.selectors.memory_summary) hands in what each remembered moment weighs now
(``impact x recall``, the terms of the balance in moments/memory/scoring.py) and the stored
balance; the sentence follows the balance's sign, so it never contradicts the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

POSITIVE, NEGATIVE, BALANCED, EMPTY = "positive", "negative", "balanced", "empty"

# Below this |balance| neither side clearly wins (a moment's impact x recall is typically
# 0.2 to 3, so 0.1 is a tenth of a mild moment).
BALANCED_BAND = 0.1

_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@dataclass(frozen=True)
class Weighed:
    """One remembered moment: when, and what it weighs now (impact x recall, signed)."""

    occurred_at: datetime
    contribution: float


@dataclass(frozen=True)
class Story:
    leaning: str  # positive, negative, balanced, or empty (nothing to weigh)
    sentence: str


def tell(
    moments: Sequence[Weighed],
    *,
    balance: float,
    band: float = BALANCED_BAND,
    today: date | None = None,
) -> Story:
    """The balance in words. Cases, in order: nothing remembered (or only neutral moments);
    balanced (|balance| < ``band``); a side with nothing against it; one peak that alone
    outweighs everything on the other side; otherwise the counts of each side."""
    good = [m for m in moments if m.contribution > 0]
    bad = [m for m in moments if m.contribution < 0]
    if not good and not bad:
        if moments:
            return Story(EMPTY, "Nothing either way: the moments they remember are neutral.")
        return Story(EMPTY, "No moments yet: nothing memorable detected or tagged.")
    if abs(balance) < band:
        both = f"{_count(len(good), 'good')} and {_count(len(bad), 'bad')}"
        return Story(BALANCED, f"Balanced: {both} weigh about the same.")
    if balance > 0:
        leaning, side, other, word, other_word = POSITIVE, good, bad, "good", "bad"
    else:
        leaning, side, other, word, other_word = NEGATIVE, bad, good, "bad", "good"
    head = f"Leaning {leaning}: "
    if not side:  # peak-end weighting cannot lean away from every moment; kept for safety
        return Story(leaning, head + f"{_count(len(other), other_word)} fading.")
    today = today or timezone.localdate()
    peak = max(side, key=lambda m: abs(m.contribution))
    if not other:
        if len(side) == 1:
            return Story(
                leaning,
                head + f"one {word} moment on {_day(peak.occurred_at, today)}, "
                f"nothing {other_word} to weigh against it.",
            )
        return Story(
            leaning,
            head + f"{_count(len(side), word)}, nothing {other_word} to weigh against them.",
        )
    against = sum(abs(m.contribution) for m in other)
    if abs(peak.contribution) >= against:
        return Story(
            leaning,
            head + f"one {word} peak on {_day(peak.occurred_at, today)} outweighs "
            f"{_count(len(other), other_word)}.",
        )
    verb = "outweighs" if len(side) == 1 else "outweigh"
    return Story(
        leaning,
        head + f"{_count(len(side), word)} {verb} {_count(len(other), other_word)}.",
    )


def _count(n: int, word: str) -> str:
    number = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{number} {word} moment{'' if n == 1 else 's'}"


def _day(when: datetime, today: date) -> str:
    """12 Oct, or 12 Oct 2025 when not this year."""
    day = timezone.localtime(when).date() if timezone.is_aware(when) else when.date()
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"

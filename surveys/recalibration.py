"""How much each moment tag actually moves survey ratings, and the impact weight that implies.

The question: a tag's impact weight says how strongly moments with that tag are remembered and
weigh on the relationship. Survey answers measure it from the customer's side. For each tag:

    effect = mean rating of answers whose moments carry the tag
           − mean rating of answers whose moments do not          (ratings on −1…1)

An answer's moments are the ones the customer picked ("this stood out"); when they picked none,
the moment the answer itself became (its own words, tagged by the tag rules); else the moment of
the surveyed interaction (surveys.selectors.ANSWER_MOMENT_PATHS). A tag is judged only with at least
SURVEY_RECALIBRATION_MIN_N answers on both sides; Welch's t is reported as evidence.

The proposed weight keeps the average weight of the judged tags and spreads it in proportion to
each tag's |effect| (a tag that moves ratings twice as much as the average tag gets twice the
average weight), then shrinks towards the current weight by n / (n + SURVEY_RECALIBRATION_PRIOR_N)
so a handful of answers cannot swing a weight. The sign of the effect is the tag's polarity,
which the weight does not carry; a tag whose effect contradicts its polarity is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean, variance


@dataclass
class TagEvidence:
    tag_id: int
    current_weight: float
    with_tag: list[float]
    without_tag: list[float]

    @property
    def n_with(self) -> int:
        return len(self.with_tag)

    @property
    def n_without(self) -> int:
        return len(self.without_tag)

    @property
    def mean_with(self) -> float:
        return fmean(self.with_tag)

    @property
    def mean_without(self) -> float:
        return fmean(self.without_tag)

    @property
    def effect(self) -> float:
        return self.mean_with - self.mean_without

    @property
    def t_stat(self) -> float:
        """Welch's t; large when the difference is unlikely to be chance."""
        a, b = self.with_tag, self.without_tag
        var_a = variance(a) if len(a) > 1 else 0.0
        var_b = variance(b) if len(b) > 1 else 0.0
        se = math.sqrt(var_a / len(a) + var_b / len(b))
        if se == 0:
            return 0.0 if self.effect == 0 else math.copysign(99.0, self.effect)
        return max(-99.0, min(99.0, self.effect / se))


@dataclass
class Proposal:
    evidence: TagEvidence
    proposed_weight: float


def propose(evidence: list[TagEvidence], *, min_n: int, prior_n: int) -> list[Proposal]:
    judged = [e for e in evidence if e.n_with >= min_n and e.n_without >= min_n]
    if not judged:
        return []
    mean_weight = fmean(e.current_weight for e in judged)
    mean_abs_effect = fmean(abs(e.effect) for e in judged)
    proposals = []
    for e in judged:
        if mean_abs_effect > 0:
            target = mean_weight * abs(e.effect) / mean_abs_effect
        else:
            target = e.current_weight
        shrink = e.n_with / (e.n_with + prior_n)
        weight = e.current_weight + shrink * (target - e.current_weight)
        proposals.append(
            Proposal(evidence=e, proposed_weight=round(min(10.0, max(0.0, weight)), 2))
        )
    return proposals

"""What the memory forecast says about each of a customer's moments at a given time, with the
features it computed that from: the candidates of a survey answer (the input of
moments.memory.fitting). Surveys record this with every answer (surveys.ForecastEvidence), so
the forecast can be scored against what customers pick, and refitted."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from moments.memory import fitting, scoring
from moments.memory.recall import recall_times
from moments.models import Moment, MomentTagging


@dataclass(frozen=True)
class MomentEvidence:
    moment_id: int
    recall: float  # the forecast recall at the time, under the parameters in use
    candidate: fitting.Candidate  # its features then (picked: False; the caller knows)


def moments_at(
    *, customer_id: int, at: datetime, params: scoring.MemoryParams
) -> list[MomentEvidence]:
    """The customer's live moments that had happened by ``at``, each with its features then and
    its recall forecast at ``at`` (fitting.forecast_recall: the product's formulas on those
    features, so a refit recomputes exactly this). Polarity and intensity are the moment's as
    last computed; refreshes are the later moments sharing a tag and the customer's recalls,
    both by ``at`` (as moments.memory.recall counts them). Two queries (one if no moments)."""
    moments = list(
        Moment.objects.live()
        .filter(customer_id=customer_id, occurred_at__lte=at)
        .select_related("stage")
        .order_by("occurred_at", "pk")
    )
    if not moments:
        return []
    tags_of: dict[int, dict[int, float]] = defaultdict(dict)
    for moment_id, tag_id, weight in MomentTagging.objects.filter(moment__in=moments).values_list(
        "moment_id", "tag_id", "tag__weight"
    ):
        tags_of[moment_id][tag_id] = weight
    found = []
    for i, m in enumerate(moments):
        tags = tags_of[m.pk]
        refreshes = scoring.refresh_times(
            occurred_at=m.occurred_at,
            now=at,
            mentioned_at=[
                later.occurred_at for later in moments[i + 1 :] if tags.keys() & tags_of[later.pk]
            ],
            recalled_at=recall_times(m),
        )
        candidate = fitting.Candidate(
            age_days=(at - m.occurred_at).total_seconds() / scoring.DAY,
            intensity=m.intensity,
            polarity=m.polarity,
            tag_weights=tuple(tags.values()),
            stage_weight=m.stage.weight if m.stage else 1.0,
            refresh_ages=tuple(
                (r - m.occurred_at).total_seconds() / scoring.DAY for r in refreshes
            ),
        )
        found.append(MomentEvidence(m.pk, fitting.forecast_recall(candidate, params), candidate))
    return found

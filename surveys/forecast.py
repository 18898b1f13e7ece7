"""Reads of the memory forecast's evidence (surveys.ForecastEvidence): the survey answers as
moments.memory.fitting reads them, and the forecast's quality on them (AUC of forecast recall
against "picked", calibration by decile) for the manager page and the API. The fit that learns
from the same evidence is surveys.services.memory_fit. See docs/memory-model.md, "The forecast
learns from survey answers"."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.db.models import QuerySet
from sklearn.metrics import roc_auc_score

from moments.memory import fitting, forecast_quality, parameters, scoring
from moments.models import MemoryFitProposal
from surveys.access import responses_visible_to
from surveys.models import ForecastEvidence, Response

FIELDS = (
    "response_id",
    "recall",
    "age_days",
    "intensity",
    "polarity",
    "tag_weights",
    "stage_weight",
    "refresh_ages",
    "picked",
)


@dataclass
class Evidence:
    answers: list[fitting.Answer]
    recorded: list[float]  # the recall each candidate was forecast at the answer, in order

    @property
    def n_candidates(self) -> int:
        return len(self.recorded)

    @property
    def n_picked(self) -> int:
        return sum(c.picked for a in self.answers for c in a.candidates)


def evidence(responses: QuerySet[Response] | None = None) -> Evidence:
    """The answers (of ``responses``; default all) as fitting reads them: per answer, the
    moments its page offered, each with its features and whether it was picked. Moments the
    page did not offer are left out: the customer could not pick them, so "not picked" says
    nothing about them. Answers that offered nothing drop out. One query."""
    rows = ForecastEvidence.objects.filter(offered=True)
    if responses is not None:
        rows = rows.filter(response__in=responses)
    by_answer: dict[int, list[fitting.Candidate]] = {}
    recorded: dict[int, list[float]] = {}
    for row in rows.order_by("response_id", "id").values_list(*FIELDS):
        values = dict(zip(FIELDS, row, strict=True))
        by_answer.setdefault(values["response_id"], []).append(
            fitting.Candidate(
                age_days=values["age_days"],
                intensity=values["intensity"],
                polarity=values["polarity"],
                tag_weights=tuple(values["tag_weights"]),
                stage_weight=values["stage_weight"],
                refresh_ages=tuple(values["refresh_ages"]),
                picked=values["picked"],
            )
        )
        recorded.setdefault(values["response_id"], []).append(values["recall"])
    return Evidence(
        answers=[fitting.Answer(tuple(c)) for c in by_answer.values()],
        recorded=[r for rs in recorded.values() for r in rs],
    )


@dataclass
class Quality:
    n_answers: int
    n_candidates: int
    n_picked: int
    min_answers: int
    problem: str = ""  # why there is no verdict yet (the empty state), else empty
    auc: float | None = None  # under the parameters in use
    auc_recorded: float | None = None  # of the recall forecast at each answer's time
    pick_rate: float | None = None
    calibration: list[forecast_quality.CalibrationRow] = field(default_factory=list)
    applied_fit: MemoryFitProposal | None = None  # None: the MEMORY_* settings are in use

    @property
    def ready(self) -> bool:
        return not self.problem


def quality(user, *, min_answers: int = fitting.MIN_ANSWERS) -> Quality:
    """How well the recall forecast predicts what customers pick, over the answers the user may
    see: the AUC of forecast recall against "picked" under the parameters in use
    (forecast_quality.forecast_auc, recomputed from each candidate's features), the AUC of the
    recall as forecast at the time, and the calibration table by decile
    (forecast_quality.calibration). The pick rate there (a customer who remembers a moment does
    not tick every one) is the one that makes the predicted picks add up to the observed ones.
    Below ``min_answers`` answers that offered moments, or with picks that separate nothing,
    ``problem`` says why instead."""
    found = evidence(responses_visible_to(user))
    result = Quality(
        n_answers=len(found.answers),
        n_candidates=found.n_candidates,
        n_picked=found.n_picked,
        min_answers=min_answers,
        applied_fit=MemoryFitProposal.objects.filter(
            status=MemoryFitProposal.Status.APPLIED
        ).first(),
    )
    if result.n_answers < min_answers:
        result.problem = (
            f"Not enough evidence yet: {result.n_answers} survey answer(s) offered moments to "
            f"pick, and the forecast's quality needs at least {min_answers}. Evidence is kept "
            "with every answer whose page offers the customer's moments."
        )
        return result
    if result.n_picked in (0, result.n_candidates):
        which = "none" if result.n_picked == 0 else "every one"
        result.problem = (
            f"Customers picked {which} of the {result.n_candidates} moments offered: the "
            "answers cannot yet tell remembered moments from forgotten ones."
        )
        return result
    params = parameters.current()
    result.auc = forecast_quality.forecast_auc(found.answers, params)
    result.auc_recorded = float(roc_auc_score(fitting.picks(found.answers), found.recorded))
    result.pick_rate = pick_rate(found.answers, params)
    result.calibration = forecast_quality.calibration(
        found.answers, params, pick_rate=result.pick_rate
    )
    return result


def pick_rate(answers: list[fitting.Answer], params: scoring.MemoryParams) -> float:
    """Picks observed / recall forecast in total: the rate at which predicted picks add up to
    the observed ones (within fitting.BOUNDS)."""
    total = float(np.sum(fitting.forecasts(answers, params)))
    low, high = fitting.BOUNDS[fitting.PICK_RATE]
    if total <= 0:
        return high
    return min(high, max(low, float(np.sum(fitting.picks(answers))) / total))

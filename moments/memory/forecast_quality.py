"""How good the memory forecast is on survey answers (``fitting.Answer``): pure code, no database.

The AUC of forecast recall against "picked" (``forecast_auc``), and a calibration table by
decile of forecast recall (``calibration``): forecast, predicted pick rate and the observed pick
rate side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from moments.memory import scoring
from moments.memory.fitting import Answer, FitError, check_both_outcomes, forecasts, picks


def forecast_auc(answers: Sequence[Answer], params: scoring.MemoryParams) -> float:
    """Area under the ROC curve of forecast recall against "picked", over every candidate:
    the chance that a picked moment was forecast as better remembered than one not picked."""
    check_both_outcomes(answers)
    return float(roc_auc_score(picks(answers), forecasts(answers, params)))


@dataclass(frozen=True)
class CalibrationRow:
    decile: int  # 1 = the lowest forecasts
    n: int
    forecast_low: float
    forecast_high: float
    mean_forecast: float  # mean forecast recall
    predicted_rate: float  # mean pick probability: pick rate x forecast recall
    observed_rate: float  # share of these candidates the customers picked


def calibration(
    answers: Sequence[Answer],
    params: scoring.MemoryParams,
    *,
    pick_rate: float = 1.0,
    bins: int = 10,
) -> list[CalibrationRow]:
    """The candidates sorted by forecast recall and cut into ``bins`` groups of (nearly) equal
    size, each with its forecast, predicted and observed pick rate. A calibrated forecast has
    predicted = observed in every row. Fewer rows when there are fewer candidates than bins."""
    r = forecasts(answers, params)
    y = picks(answers)
    if r.size == 0:
        raise FitError("no candidate moments: nothing to score")
    order = np.argsort(r, kind="stable")
    rows = []
    for decile, index in enumerate(np.array_split(order, min(bins, r.size)), start=1):
        rows.append(
            CalibrationRow(
                decile=decile,
                n=int(index.size),
                forecast_low=float(r[index].min()),
                forecast_high=float(r[index].max()),
                mean_forecast=float(r[index].mean()),
                predicted_rate=float(np.clip(r[index] * pick_rate, 0, 1).mean()),
                observed_rate=float(y[index].mean()),
            )
        )
    return rows

"""Fitting the memory forecast to what customers say: pure code, no database.

A survey answer is the ground truth of what a customer remembers: the page offers the
customer's moments and they pick the ones that stood out. This module scores the forecast
against those picks and fits the forgetting-curve and impact parameters of
``moments.memory.scoring`` (base stability, intensity gain, impact gain, loss aversion,
refresh boost) to them by maximum likelihood. The forecast itself is not re-implemented here:
every recall is computed by ``scoring.impact``, ``scoring.stability`` and ``scoring.recall``,
so the fit always fits the model the product runs.

**Input** (plain data, so it can come from stored evidence, a JSON file or a simulation): a
list of ``Answer``, each holding the candidate moments the customer was offered, as they were
*when the customer answered*::

    {"candidates": [
        {"age_days": 41.5,            # days from the moment to the answer
         "intensity": 0.72,           # the moment's intensity in [0, 1] (|score| x confidence)
         "polarity": "negative",      # positive | negative | neutral
         "tag_weights": [2.5, 1.5],   # weights of its tags (empty: untagged)
         "stage_weight": 1.5,         # its journey stage's weight (1.0 without a stage)
         "refresh_ages": [12.0],      # days after the moment it was refreshed, before the answer
         "picked": true},             # the customer picked it as what stood out
        ...]}

**Likelihood.** Each candidate is picked independently with probability
``pick_rate x R``, where ``R`` is the forecast recall at the answer under the parameters and
``pick_rate`` (fitted too) is the chance that a customer who remembers a moment also picks it:
nobody ticks everything they remember. The fit maximises the Bernoulli log-likelihood of the
picks (L-BFGS-B within ``BOUNDS``, from fixed starting points: deterministic).

Forecast quality (AUC, calibration) is in ``moments.memory.forecast_quality``; simulated answers
for the bench and the tests in ``moments.memory.simulation``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from moments.memory import scoring

# The fitted parameters: the five of scoring.MemoryParams that shape the forecast, and the
# pick rate, which is the survey's, not the memory model's.
MEMORY_PARAMETERS = (
    "base_stability_days",
    "intensity_gain",
    "impact_gain",
    "loss_aversion",
    "refresh_boost",
)
PICK_RATE = "pick_rate"
PARAMETERS = (*MEMORY_PARAMETERS, PICK_RATE)

# Plausible ranges: a flat moment is forgotten in hours to a year; gains from none to large;
# losses from a quarter to ten times a gain's weight (prospect theory says about 2); a refresh
# at least keeps the memory as stable as it was.
BOUNDS: dict[str, tuple[float, float]] = {
    "base_stability_days": (0.5, 365.0),
    "intensity_gain": (0.0, 20.0),
    "impact_gain": (0.0, 10.0),
    "loss_aversion": (0.25, 10.0),
    "refresh_boost": (1.0, 10.0),
    PICK_RATE: (0.01, 1.0),
}
POLARITIES = (scoring.POSITIVE, scoring.NEGATIVE, scoring.NEUTRAL)
MIN_ANSWERS = 30
# Probabilities are kept this far from 0 and 1: one pick of a moment forecast as forgotten
# costs a lot of likelihood, but not an infinite amount.
EPSILON = 1e-9


class FitError(ValueError):
    """The evidence cannot be fitted or scored; the message says why, for the person asking."""


# --- Input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One moment offered to the customer, as it was when they answered."""

    age_days: float
    intensity: float
    polarity: str
    tag_weights: tuple[float, ...] = ()
    stage_weight: float = 1.0
    refresh_ages: tuple[float, ...] = ()
    picked: bool = False

    @classmethod
    def from_dict(cls, data: Mapping) -> Candidate:
        if not isinstance(data, Mapping):
            raise FitError(f"a candidate must be an object, not {type(data).__name__}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise FitError(f"unknown candidate field(s): {', '.join(sorted(unknown))}")
        for name in ("age_days", "intensity", "polarity"):
            if name not in data:
                raise FitError(f"a candidate needs {name}")
        return cls(
            age_days=_number(data["age_days"], "age_days"),
            intensity=_number(data["intensity"], "intensity"),
            polarity=str(data["polarity"]),
            tag_weights=tuple(_number(w, "tag_weights") for w in _list(data, "tag_weights")),
            stage_weight=_number(data.get("stage_weight", 1.0), "stage_weight"),
            refresh_ages=tuple(_number(a, "refresh_ages") for a in _list(data, "refresh_ages")),
            picked=_bool(data.get("picked", False)),
        )

    def problem(self) -> str | None:
        """What makes this candidate unusable, or None."""
        numbers = (self.age_days, self.intensity, self.stage_weight)
        if not all(math.isfinite(x) for x in (*numbers, *self.tag_weights, *self.refresh_ages)):
            return "a number is not finite"
        if self.age_days < 0:
            return f"age_days is negative ({self.age_days})"
        if not 0.0 <= self.intensity <= 1.0:
            return f"intensity must be in [0, 1] ({self.intensity})"
        if self.polarity not in POLARITIES:
            return f"polarity must be one of {', '.join(POLARITIES)} ({self.polarity!r})"
        if self.stage_weight < 0 or any(w < 0 for w in self.tag_weights):
            return "weights cannot be negative"
        if any(a < 0 for a in self.refresh_ages):
            return "refresh_ages cannot be negative"
        return None


@dataclass(frozen=True)
class Answer:
    """One survey answer: the moments offered, each marked picked or not."""

    candidates: tuple[Candidate, ...]

    @classmethod
    def from_dict(cls, data: Mapping) -> Answer:
        if not isinstance(data, Mapping) or "candidates" not in data:
            raise FitError('an answer must be an object with "candidates"')
        return cls(tuple(Candidate.from_dict(c) for c in _list(data, "candidates")))


def answers_from_data(data: Iterable[Mapping]) -> list[Answer]:
    """Answers from plain data (parsed JSON); a FitError names the first bad answer."""
    answers = []
    for i, item in enumerate(data):
        try:
            answers.append(Answer.from_dict(item))
        except FitError as error:
            raise FitError(f"answer {i}: {error}") from None
    return answers


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FitError(f"{name} must be a number, not {value!r}")
    return float(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise FitError(f"picked must be true or false, not {value!r}")
    return value


def _list(data: Mapping, name: str) -> list:
    value = data.get(name, [])
    if not isinstance(value, list | tuple):
        raise FitError(f"{name} must be a list")
    return list(value)


# --- The forecast under given parameters -----------------------------------------------------


def forecast_recall(candidate: Candidate, params: scoring.MemoryParams) -> float:
    """The recall ``params`` forecast for the moment when the customer answered: the product's
    own formulas (moments.memory.scoring), nothing re-implemented."""
    impact = scoring.impact(
        tag_weights=candidate.tag_weights,
        intensity=candidate.intensity,
        stage_weight=candidate.stage_weight,
        polarity=candidate.polarity,
        params=params,
    )
    stability = scoring.stability(intensity=candidate.intensity, impact=impact, params=params)
    return scoring.recall(
        age_days=candidate.age_days,
        stability_days=stability,
        refresh_ages=candidate.refresh_ages,
        params=params,
    )


def forecasts(answers: Sequence[Answer], params: scoring.MemoryParams) -> np.ndarray:
    """Forecast recall of every candidate, answers in order, flattened."""
    return np.fromiter(
        (forecast_recall(c, params) for a in answers for c in a.candidates), dtype=float
    )


def picks(answers: Sequence[Answer]) -> np.ndarray:
    """1.0 for each picked candidate, 0.0 otherwise, in the order of ``forecasts``."""
    return np.fromiter((c.picked for a in answers for c in a.candidates), dtype=float)


def log_likelihood(
    answers: Sequence[Answer], params: scoring.MemoryParams, *, pick_rate: float = 1.0
) -> float:
    """Log-likelihood of the picks: each candidate picked with probability pick_rate x recall."""
    return _log_likelihood(forecasts(answers, params) * pick_rate, picks(answers))


def _log_likelihood(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPSILON, 1.0 - EPSILON)
    return float(np.sum(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


# --- Checks ---------------------------------------------------------------------------------


def check_evidence(answers: Sequence[Answer], *, min_answers: int = MIN_ANSWERS) -> None:
    """Raise FitError, saying why, when the answers cannot support a fit or a score: too few,
    a bad value, or picks that do not separate anything (all picked or none)."""
    usable = [a for a in answers if a.candidates]
    if not usable:
        raise FitError("no survey answers with candidate moments: nothing to fit")
    if len(usable) < min_answers:
        raise FitError(
            f"{len(usable)} answer(s) with candidate moments; at least {min_answers} are needed "
            "for a fit"
        )
    for i, answer in enumerate(answers):
        for j, candidate in enumerate(answer.candidates):
            problem = candidate.problem()
            if problem:
                raise FitError(f"answer {i}, candidate {j}: {problem}")
    check_both_outcomes(answers)


def check_both_outcomes(answers: Sequence[Answer]) -> None:
    y = picks(answers)
    if y.size == 0:
        raise FitError("no candidate moments: nothing to score")
    if y.min() == y.max():
        which = "every" if y[0] else "no"
        raise FitError(
            f"{which} candidate moment was picked: the answers cannot tell remembered moments "
            "from forgotten ones"
        )


# --- Fit ------------------------------------------------------------------------------------


# Each parameter is optimised on a scale where a step means the same everywhere: logarithms
# for the multiplicative ones, log(1 + gain) for the gains (which may be 0), the rate as is.
def _to_free(name: str, value: float) -> float:
    if name in ("intensity_gain", "impact_gain"):
        return math.log1p(value)
    if name == PICK_RATE:
        return value
    return math.log(value)


def _from_free(name: str, value: float) -> float:
    if name in ("intensity_gain", "impact_gain"):
        return math.expm1(value)
    if name == PICK_RATE:
        return value
    return math.exp(value)


def _d_natural(name: str, value: float) -> float:
    """d(natural value)/d(free value), for the standard errors."""
    if name == PICK_RATE:
        return 1.0
    return math.exp(value)


# Fixed starting points (deterministic), in the order of PARAMETERS: the product's defaults, a
# slow-forgetting and a fast-forgetting corner. The best end point wins.
STARTS: tuple[dict[str, float], ...] = tuple(
    dict(zip(PARAMETERS, values, strict=True))
    for values in (
        (7.0, 4.0, 1.0, 2.0, 2.0, 0.5),
        (30.0, 1.0, 0.3, 1.5, 3.0, 0.8),
        (2.0, 8.0, 2.0, 3.0, 1.5, 0.3),
    )
)


@dataclass(frozen=True)
class FitResult:
    params: scoring.MemoryParams  # ``base`` with the fitted memory parameters
    pick_rate: float
    values: dict[str, float]  # every parameter: fitted or fixed
    fixed: tuple[str, ...]
    log_likelihood: float
    null_log_likelihood: float  # one pick rate for every candidate, no forecast
    n_answers: int
    n_candidates: int
    n_picked: int
    at_bound: tuple[str, ...]  # fitted parameters that ended on a bound: weakly supported
    standard_errors: dict[str, float | None] = field(default_factory=dict)
    converged: bool = True
    message: str = ""

    @property
    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / self.n_candidates


def fit(
    answers: Sequence[Answer],
    *,
    base: scoring.MemoryParams | None = None,
    fixed: Mapping[str, float] | None = None,
    standard_errors: bool = False,
    min_answers: int = MIN_ANSWERS,
    max_iterations: int = 300,
    starts: Sequence[Mapping[str, float]] = STARTS,
) -> FitResult:
    """Maximum-likelihood estimate of the memory parameters (and the pick rate) from survey
    answers. ``base`` supplies the parameters the forecast does not depend on (peak weight, …)
    and is copied with the fitted values; ``fixed`` holds parameters at given values (e.g.
    ``{"pick_rate": 1.0}``). ``standard_errors``: also estimate them from the curvature of the
    likelihood (about 4 x (number of parameters)^2 extra evaluations); None for a parameter on a
    bound or when the curvature is not informative. ``starts``: the starting points (the best
    end point wins; fewer is faster). Raises FitError on evidence that cannot support a fit."""
    check_evidence(answers, min_answers=min_answers)
    answers = [a for a in answers if a.candidates]
    base = base or scoring.MemoryParams()
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(PARAMETERS)
    if unknown:
        raise FitError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    for name, value in fixed.items():
        low, high = BOUNDS[name]
        if not low <= value <= high:
            raise FitError(f"{name} = {value} is outside [{low}, {high}]")
    free = [name for name in PARAMETERS if name not in fixed]
    if not free:
        raise FitError("every parameter is fixed: nothing to fit")
    y = picks(answers)
    n = y.size

    def values_of(x: Sequence[float]) -> dict[str, float]:
        values = dict(fixed)
        values.update({name: _from_free(name, v) for name, v in zip(free, x, strict=True)})
        return values

    def objective(x: np.ndarray) -> float:
        values = values_of(x)
        params = dataclasses.replace(base, **{k: values[k] for k in MEMORY_PARAMETERS})
        p = forecasts(answers, params) * values[PICK_RATE]
        return -_log_likelihood(p, y) / n

    bounds = [tuple(_to_free(name, b) for b in BOUNDS[name]) for name in free]
    best = None
    if not starts:
        raise FitError("no starting point")
    for start in starts:
        x0 = [_to_free(name, start[name]) for name in free]
        result = minimize(
            objective,
            np.array(x0),
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-8},
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    values = values_of(best.x)
    params = dataclasses.replace(base, **{k: values[k] for k in MEMORY_PARAMETERS})
    at_bound = tuple(
        name
        for name, x, (low, high) in zip(free, best.x, bounds, strict=True)
        if min(x - low, high - x) < 1e-4
    )
    rate = float(y.mean())
    null = float(n * (rate * math.log(rate) + (1 - rate) * math.log(1 - rate)))
    errors = _standard_errors(objective, best.x, free, n, at_bound) if standard_errors else {}
    return FitResult(
        params=params,
        pick_rate=values[PICK_RATE],
        values=values,
        fixed=tuple(sorted(fixed)),
        log_likelihood=-best.fun * n,
        null_log_likelihood=null,
        n_answers=len(answers),
        n_candidates=n,
        n_picked=int(y.sum()),
        at_bound=at_bound,
        standard_errors=errors,
        converged=bool(best.success),
        message=str(best.message),
    )


def _standard_errors(objective, x: np.ndarray, free: list[str], n: int, at_bound) -> dict:
    """Standard errors from the observed information (the Hessian of the negative
    log-likelihood, by central differences on the optimiser's scale), then to each parameter's
    own scale (delta method). Parameters on a bound get None: the curvature there says nothing
    about their uncertainty, so they are left out of the matrix."""
    inner = [i for i, name in enumerate(free) if name not in at_bound]
    errors: dict[str, float | None] = {name: None for name in free}
    if not inner:
        return errors
    h = 1e-3
    k = len(inner)
    hessian = np.zeros((k, k))

    def f(shifts: dict[int, float]) -> float:
        point = x.copy()
        for i, d in shifts.items():
            point[i] += d
        return objective(point) * n

    centre = f({})
    for a, i in enumerate(inner):
        hessian[a, a] = (f({i: h}) - 2 * centre + f({i: -h})) / h**2
        for b in range(a):
            j = inner[b]
            hessian[a, b] = hessian[b, a] = (
                f({i: h, j: h}) - f({i: h, j: -h}) - f({i: -h, j: h}) + f({i: -h, j: -h})
            ) / (4 * h**2)
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return errors
    for a, i in enumerate(inner):
        variance = covariance[a, a]
        if variance > 0 and math.isfinite(variance):
            name = free[i]
            errors[name] = math.sqrt(variance) * abs(_d_natural(name, x[i]))
    return errors

"""Fitting the memory forecast to survey answers: ``fit_memory_model`` estimates the forecast's
parameters by maximum likelihood on the evidence every answer keeps (surveys.forecast,
moments.memory.fitting) and stores them as a proposal. Nothing changes in the forecast until an
admin applies it (moments.memory.parameters.apply, from Django admin)."""

from __future__ import annotations

from scipy.optimize import minimize_scalar

from moments.memory import fitting, forecast_quality, parameters
from moments.models import MemoryFitProposal
from surveys import forecast


def fit_memory_model(*, min_answers: int = fitting.MIN_ANSWERS) -> MemoryFitProposal:
    """Fit base stability, intensity gain, impact gain, loss aversion and refresh boost (and the
    survey's pick rate) on every answer's evidence, starting from and compared with the
    parameters in use; store the result as the open proposal (superseding the previous one)
    with the log-likelihood and AUC of both. Raises fitting.FitError, saying why, when the
    evidence cannot support a fit."""
    found = forecast.evidence()
    answers = found.answers
    in_use = parameters.current()
    fitted = fitting.fit(answers, base=in_use, min_answers=min_answers)
    # The parameters in use, scored the same way: their best pick rate (the one free value).
    low, high = fitting.BOUNDS[fitting.PICK_RATE]
    best = minimize_scalar(
        lambda rate: -fitting.log_likelihood(answers, in_use, pick_rate=rate),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-5},
    )
    baseline_ll = fitting.log_likelihood(answers, in_use, pick_rate=float(best.x))
    return parameters.propose(
        values={name: fitted.values[name] for name in fitting.MEMORY_PARAMETERS},
        pick_rate=fitted.pick_rate,
        current_values={name: getattr(in_use, name) for name in fitting.MEMORY_PARAMETERS},
        n_answers=fitted.n_answers,
        n_candidates=fitted.n_candidates,
        n_picked=fitted.n_picked,
        log_likelihood_current=baseline_ll,
        log_likelihood_proposed=fitted.log_likelihood,
        auc_current=forecast_quality.forecast_auc(answers, in_use),
        auc_proposed=forecast_quality.forecast_auc(answers, fitted.params),
        at_bound=list(fitted.at_bound),
    )

"""Benchmark: can the memory forecast learn what customers remember from their survey picks?

Pure computation, no database. Simulated customers whose memory follows known parameters
(`TRUE` below, far from the product's defaults) answer surveys: each is offered 2-8 of their
moments and picks each with probability pick_rate x recall (moments.memory.simulation.simulate).
The fit (moments.memory.fitting.fit: maximum likelihood, bounded, deterministic) sees only the
answers. Printed, in the same run:

1. Recovered vs true parameters, with standard errors.
2. On held-out answers from the same customers' model: the forecast's AUC (recall vs picked)
   and log-likelihood, and the calibration error by decile, for the oracle (the true
   parameters), the fitted parameters, and the baseline: the product's default parameters
   with only the pick rate fitted.
3. The fitted forecast's calibration table on the held-out answers.

    python bench/memory_fit.py                 # 2,000 answers to fit, 2,000 held out
    python bench/memory_fit.py --answers 500   # fewer answers
    python bench/memory_fit.py --quick         # 300 + 300, one starting point (smoke test)

Last line: `RESULT memory_fit auc_gap=<oracle AUC - fitted AUC, held out> target<=0.02
PASS|FAIL`; exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import sys
import time

import _setup  # noqa: F401 (the project on sys.path)
import numpy as np

TARGET = 0.02


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=2000, help="answers to fit")
    parser.add_argument("--held-out", type=int, default=2000, help="answers to score on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="300 answers, 300 held out")
    args = parser.parse_args(argv)
    if args.quick:
        args.answers = args.held_out = 300
    return args


def calibration_error(rows) -> float:
    """Mean |predicted - observed| pick rate over the deciles, weighted by their size."""
    total = sum(r.n for r in rows)
    return sum(r.n * abs(r.predicted_rate - r.observed_rate) for r in rows) / total


def main(argv: list[str]) -> int:
    from moments.memory import fitting, forecast_quality, scoring, simulation
    from moments.memory.fitting import PICK_RATE

    args = parse_args(argv)
    true = scoring.MemoryParams(
        base_stability_days=12.0,
        intensity_gain=2.5,
        impact_gain=0.6,
        loss_aversion=2.5,
        refresh_boost=3.0,
    )
    true_pick_rate = 0.7
    defaults = scoring.MemoryParams()

    answers = simulation.simulate(
        args.answers, params=true, pick_rate=true_pick_rate, seed=args.seed
    )
    held_out = simulation.simulate(
        args.held_out, params=true, pick_rate=true_pick_rate, seed=args.seed + 1000
    )
    for name, data in (("fit on", answers), ("held out", held_out)):
        y = fitting.picks(data)
        print(
            f"{name}: {len(data)} simulated answers, {y.size} candidate moments, "
            f"{int(y.sum())} picked ({y.mean():.1%})"
        )

    start = time.perf_counter()
    # --quick: one starting point (the product's defaults) instead of three.
    starts = fitting.STARTS[:1] if args.quick else fitting.STARTS
    fitted = fitting.fit(answers, standard_errors=True, starts=starts)
    seconds = time.perf_counter() - start
    baseline = fitting.fit(
        answers, fixed={k: getattr(defaults, k) for k in fitting.MEMORY_PARAMETERS}
    )
    print(
        f"fit: {seconds:.1f} s, {'converged' if fitted.converged else 'NOT converged'} "
        f"({fitted.message}); on a bound: {', '.join(fitted.at_bound) or 'none'}"
    )
    print()
    rows = []
    for name in fitting.PARAMETERS:
        true_value = true_pick_rate if name == PICK_RATE else getattr(true, name)
        default = baseline.pick_rate if name == PICK_RATE else getattr(defaults, name)
        value, error = fitted.values[name], fitted.standard_errors.get(name)
        rows.append(
            [
                name,
                f"{true_value:.3g}",
                f"{default:.3g}" + (" (fitted)" if name == PICK_RATE else ""),
                f"{value:.3g}",
                f"{error:.2g}" if error else "-",
                f"{abs(value - true_value) / error:.1f}" if error else "-",
            ]
        )
    print(
        _setup.table(
            ["parameter", "true", "product default", "fitted", "+/- s.e.", "|error|/s.e."], rows
        )
    )
    print()

    models = {
        "oracle (true parameters)": (true, true_pick_rate),
        "fitted": (fitted.params, fitted.pick_rate),
        "product defaults, pick rate fitted": (defaults, baseline.pick_rate),
    }
    auc = {}
    rows = []
    n = fitting.picks(held_out).size
    for name, (params, pick_rate) in models.items():
        auc[name] = forecast_quality.forecast_auc(held_out, params)
        loglik = fitting.log_likelihood(held_out, params, pick_rate=pick_rate) / n
        calibration = forecast_quality.calibration(held_out, params, pick_rate=pick_rate)
        rows.append(
            [
                name,
                f"{auc[name]:.4f}",
                f"{auc['oracle (true parameters)'] - auc[name]:+.4f}",
                f"{loglik:.4f}",
                f"{calibration_error(calibration):.4f}",
            ]
        )
    print("held-out answers:")
    print(
        _setup.table(["forecast", "AUC", "AUC gap", "log-lik / moment", "calibration error"], rows)
    )
    print(
        "AUC gap = oracle AUC - this AUC. Calibration error: mean |predicted - observed| pick "
        "rate over the deciles of forecast recall."
    )
    print()
    print("fitted forecast, calibration by decile of forecast recall (held out):")
    table = forecast_quality.calibration(held_out, fitted.params, pick_rate=fitted.pick_rate)
    print(
        _setup.table(
            ["decile", "moments", "forecast recall", "predicted pick rate", "observed pick rate"],
            [
                [
                    r.decile,
                    r.n,
                    f"{r.forecast_low:.2f}-{r.forecast_high:.2f}",
                    f"{r.predicted_rate:.3f}",
                    f"{r.observed_rate:.3f}",
                ]
                for r in table
            ],
        )
    )
    print()
    gap = auc["oracle (true parameters)"] - auc["fitted"]
    default_gap = auc["oracle (true parameters)"] - auc["product defaults, pick rate fitted"]
    print(
        f"AUC gap, fitted {gap:+.4f} vs product defaults {default_gap:+.4f} (same answers); "
        f"log-likelihood per moment, fitted vs defaults: {rows[1][3]} vs {rows[2][3]}"
    )
    if default_gap <= TARGET:
        print(
            "note: the product defaults meet the AUC target too. Recall ranks moments mostly by "
            "their age, whatever the parameters; the fit's gain shows in the log-likelihood "
            "and the calibration error."
        )
    passed = bool(np.isfinite(gap)) and gap <= TARGET
    print(f"RESULT memory_fit auc_gap={gap:.4f} target<={TARGET} {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

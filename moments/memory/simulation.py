"""Survey answers of simulated customers whose memory follows given parameters exactly (for the
bench and the tests of ``moments.memory.fitting``): pure code, no database."""

from __future__ import annotations

import dataclasses
import math
import random

from moments.memory import scoring
from moments.memory.fitting import POLARITIES, Answer, Candidate, forecast_recall

# The seeded taxonomy's tag weights and the seeded stages' weights (migrations).
SIM_TAG_WEIGHTS = (1.5, 2.0, 2.5, 1.0, 1.2, 2.5, 1.5, 1.8, 2.2, 1.3)
SIM_STAGE_WEIGHTS = (1.2, 1.0, 1.1, 1.0, 1.5, 1.3)


def simulate(
    n_answers: int,
    *,
    params: scoring.MemoryParams,
    pick_rate: float,
    seed: int,
    candidates: tuple[int, int] = (2, 8),
) -> list[Answer]:
    """Survey answers of simulated customers whose memory follows ``params`` exactly: each is
    offered 2-8 of their moments (ages 0.5-365 days, spread evenly on a log scale; intensities
    mostly moderate; as many negative as positive, some neutral; 0-2 tags; a stage; a quarter
    refreshed once or twice) and picks each with probability pick_rate x recall. Deterministic
    for a seed."""
    rng = random.Random(seed)
    answers = []
    for _ in range(n_answers):
        offered = []
        for _ in range(rng.randint(*candidates)):
            age = math.exp(rng.uniform(math.log(0.5), math.log(365.0)))
            refreshes: tuple[float, ...] = ()
            if rng.random() < 0.25:
                refreshes = tuple(sorted(rng.uniform(0, age) for _ in range(rng.randint(1, 2))))
            candidate = Candidate(
                age_days=age,
                intensity=min(1.0, rng.betavariate(2.0, 2.5)),
                polarity=rng.choices(POLARITIES, weights=(45, 45, 10))[0],
                tag_weights=tuple(rng.sample(SIM_TAG_WEIGHTS, rng.choice((0, 0, 1, 1, 2)))),
                stage_weight=rng.choice(SIM_STAGE_WEIGHTS),
                refresh_ages=refreshes,
            )
            p = pick_rate * forecast_recall(candidate, params)
            offered.append(dataclasses.replace(candidate, picked=rng.random() < p))
        answers.append(Answer(tuple(offered)))
    return answers

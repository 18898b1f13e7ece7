"""How long until a training run is done: what `make run` and /sentiment/status/ print.

A running training extrapolates its own progress (progress is proportional to the work: texts
embedded for the quick model, batches for the fine-tuned one). Before it starts, the estimate
comes from the machine's measured speed: the quick model's metadata records how many texts per
second this machine embedded (``embedding_pass``); fine-tuning does the same forward pass plus
a backward pass and an optimiser step, over every training text, each epoch. No database here:
callers pass the rows' fields.
"""

from __future__ import annotations

from datetime import datetime

# Texts embedded by a quick training on the full data (train + dev + test + long-text pieces).
QUICK_TEXTS = 26_000
FULL_TRAIN_TEXTS = 20_700
FULL_EPOCHS = 2
# Seconds of fine-tuning per text, in units of the quick pass's seconds per text: calibrated
# so that the figures measured on 2 free cores (~300 texts/s embedded; 25 min for 2 epochs)
# agree.
FINE_TUNE_COST = 9.0
# Until the machine has measured itself: embedding texts/s on 2 free cores (ONNX: 2x torch).
DEFAULT_RATE = 300.0
# Below this progress (or this many seconds) an extrapolation is noise.
MIN_PROGRESS = 0.03
MIN_SECONDS = 5.0


def measured_rate(metadata: dict | None) -> float:
    """Texts embedded per second by this machine in the last quick training, else a default."""
    rate = ((metadata or {}).get("embedding_pass") or {}).get("texts_per_second")
    return float(rate) if rate else DEFAULT_RATE


def expected_seconds(kind: str, *, rate: float) -> float:
    """A whole training's expected duration on this machine, before it starts."""
    if kind == "quick":
        return QUICK_TEXTS / rate + 15.0  # + loading the data, fitting, evaluating
    return FULL_EPOCHS * FULL_TRAIN_TEXTS * FINE_TUNE_COST / rate + 120.0


def remaining_seconds(
    *,
    kind: str,
    progress: float,
    started_at: datetime | None,
    now: datetime,
    rate: float = DEFAULT_RATE,
) -> float:
    """Seconds left for one run: extrapolated from its progress once that means something,
    else the expected duration less the time already spent."""
    elapsed = (now - started_at).total_seconds() if started_at else 0.0
    if progress >= MIN_PROGRESS and elapsed >= MIN_SECONDS:
        return max(0.0, elapsed / progress * (1.0 - progress))
    return max(0.0, expected_seconds(kind, rate=rate) - elapsed)


def in_words(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 1 h 20 min'."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


def forecast(*, active, runs: list, now: datetime) -> list[dict]:
    """One line per training still to finish, in queue order: ``{"kind", "progress",
    "seconds", "words"}``, each run's wait including the runs ahead of it (one worker trains
    one at a time). ``active`` is the model in use (or None), ``runs`` the queued/training rows
    (objects with kind, progress, started_at, created_at). When nothing fine-tuned is under way
    yet, a last line forecasts the fine-tuned model that follows the quick one."""
    rate = measured_rate(getattr(active, "metadata", None))
    lines = []
    ahead = 0.0
    for run in sorted(runs, key=lambda r: r.created_at):
        ahead += remaining_seconds(
            kind=run.kind, progress=run.progress, started_at=run.started_at, now=now, rate=rate
        )
        lines.append({"kind": run.kind, "progress": run.progress, "seconds": ahead})
    full_ahead = any(run.kind == "full" for run in runs)
    if not full_ahead and (active is None or active.kind == "quick") and runs:
        ahead += expected_seconds("full", rate=rate)
        lines.append({"kind": "full", "progress": 0.0, "seconds": ahead, "follows": True})
    for line in lines:
        line["words"] = in_words(line["seconds"])
    return lines

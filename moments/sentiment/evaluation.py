"""Metrics on the held-out splits, for our model and for the VADER baseline on the same rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from .data import LABELS, Example


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Macro-F1 over the classes present in ``gold`` (Rotten Tomatoes has no neutral class, so
    it is averaged over two; a "neutral" prediction there simply counts as a miss), per-class
    precision/recall/F1, and accuracy."""
    classes = [label for label in LABELS if label in set(gold)]
    per_class = {}
    for label in classes:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(1, len(gold))
    return {
        "macro_f1": round(sum(c["f1"] for c in per_class.values()) / max(1, len(per_class)), 4),
        "accuracy": round(accuracy, 4),
        "n": len(gold),
        "per_class": per_class,
    }


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_label(text: str) -> str:
    # The thresholds VADER's authors recommend for its compound score.
    compound = _vader().polarity_scores(text)["compound"]
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def evaluate_splits(
    splits: dict[str, list[Example]], predict: Callable[[list[str]], list[str]]
) -> dict[str, dict]:
    return {
        name: macro_f1([e.label for e in rows], predict([e.text for e in rows]))
        for name, rows in splits.items()
    }


def vader_predict(texts: list[str]) -> list[str]:
    return [vader_label(text) for text in texts]


def summary_table(metrics: dict[str, dict], baseline: dict[str, dict] | None = None) -> str:
    """A plain-text table (split, n, macro-F1, accuracy, VADER macro-F1) for logs and commands."""
    lines = [f"{'split':<14} {'n':>5} {'macro-F1':>9} {'acc':>6} {'VADER F1':>9}"]
    for name, row in metrics.items():
        vader = f"{baseline[name]['macro_f1']:.3f}" if baseline and name in baseline else "-"
        lines.append(
            f"{name:<14} {row['n']:>5} {row['macro_f1']:>9.3f} {row['accuracy']:>6.3f} {vader:>9}"
        )
    return "\n".join(lines)

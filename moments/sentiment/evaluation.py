"""Metrics on the held-out splits, for our model and for the VADER baseline on the same rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .data import LABELS, Example
from .lexicon import vader_label


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Macro-F1 over the classes present in ``gold`` (Rotten Tomatoes has no neutral class, so
    it is averaged over two; a "neutral" prediction there simply counts as a miss), per-class
    precision/recall/F1, and accuracy. scikit-learn's, restricted to those classes."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    classes = [label for label in LABELS if label in set(gold)]
    if not classes:
        return {"macro_f1": 0.0, "accuracy": 0.0, "n": 0, "per_class": {}}
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=classes, zero_division=0
    )
    per_class = {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(classes)
    }
    return {
        "macro_f1": round(float(f1.mean()), 4),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "n": len(gold),
        "per_class": per_class,
    }


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

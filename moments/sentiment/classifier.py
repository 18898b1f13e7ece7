"""The loaded sentiment model: batched prediction, signed scores, and how long texts are read.

A trained model is a self-contained flair ``.pt`` file (it embeds the MiniLM weights and
tokenizer), loaded by file path only: named flair models need the hub, which is unreachable.
Next to it, a quick model has ``head.npz`` (a linear head over the embedding and VADER's
lexicon scores, see training.py), and any model may have its ONNX export (onnx.py), which
then replaces the torch transformer at load time. Any failure to load becomes
:class:`ModelUnavailable`, which callers turn into the "model unavailable" state
(interactions stay pending).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import onnx
from .data import LABELS
from .lexicon import LEXICON_WEIGHT, lexicon_scores
from .runtime import configure_offline

logger = logging.getLogger(__name__)

LABEL_TYPE = "sentiment"

# Texts longer than this many words are split into sentences (see Classifier.score). Snippets
# the model was trained on are 10-40 words; a 300-word email in one piece is slow (attention is
# quadratic, and the whole batch pads to it) and, truncated at 512 tokens, loses its ending.
LONG_TEXT_WORDS = 60
# A "sentence" longer than this is cut into pieces of this many words (lists, run-on notes).
MAX_PIECE_WORDS = 50
# At most this many pieces per text are scored: the first and last halves are kept, because
# the opening states the issue and the closing the outcome; the middle is mostly detail.
MAX_PIECES = 24

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

Aggregation = Literal["words", "mean", "ending", "strength"]
# How the app combines a long text's sentences (see aggregate and docs/sentiment.md): rising to
# the ending ranked best of the four over 78 labelled long documents with both models (quick
# 0.698, fine-tuned 0.730 macro-F1; by words 0.651 / 0.631, plain mean 0.664 / 0.743).
DEFAULT_AGGREGATION: Aggregation = "ending"
HEAD_FILE = "head.npz"


class ModelUnavailable(RuntimeError):
    """No usable sentiment model: not trained yet, missing, or corrupt. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Score:
    label: str  # negative | neutral | positive
    score: float  # P(positive) - P(negative), in [-1, 1]
    confidence: float  # probability of the chosen label, in [0, 1]
    probabilities: dict[str, float]

    @classmethod
    def from_probabilities(cls, probabilities: dict[str, float]) -> Score:
        total = sum(probabilities.values()) or 1.0
        probs = {label: probabilities.get(label, 0.0) / total for label in LABELS}
        label = max(LABELS, key=lambda name: probs[name])
        signed = max(-1.0, min(1.0, probs["positive"] - probs["negative"]))
        return cls(label, round(signed, 6), round(min(1.0, probs[label]), 6), probs)


def split_long_text(text: str) -> list[str]:
    """Sentences (long ones cut into word windows), capped at MAX_PIECES, keeping both ends."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        for start in range(0, len(words), MAX_PIECE_WORDS):
            pieces.append(" ".join(words[start : start + MAX_PIECE_WORDS]))
    pieces = [piece for piece in pieces if piece]
    if len(pieces) > MAX_PIECES:
        half = MAX_PIECES // 2
        pieces = pieces[:half] + pieces[-half:]
    return pieces or [text[:2000]]


def aggregate(
    piece_probs: Sequence[dict], how: Aggregation = DEFAULT_AGGREGATION, words: Sequence[int] = ()
) -> dict:
    """Combine per-sentence probabilities into one for the whole text.

    "ending" (the default) weighs them from 1 (first sentence) rising to 2 (last): the outcome
    of an email or review is usually in its last lines, and a complaint that ends in thanks is
    remembered as a recovery (peak-end). "words" averages the sentences' class probabilities
    weighted by their length in words (``words``). "mean" averages them plainly. "strength"
    weights each sentence by how polar it is (|P(pos) - P(neg)| + 0.1), so one furious
    sentence dominates; it over-calls mixed texts as polar. The figures of each are in
    docs/sentiment.md (bench/sentiment.py measures them).
    """
    n = len(piece_probs)
    weights = []
    for index, probs in enumerate(piece_probs):
        if how == "mean":
            weights.append(1.0)
        elif how == "words":
            weights.append(float(max(1, words[index])) if words else 1.0)
        elif how == "ending":
            weights.append(1.0 + (index / (n - 1) if n > 1 else 0.0))
        else:
            weights.append(abs(probs["positive"] - probs["negative"]) + 0.1)
    total = sum(weights)
    return {
        label: sum(w * p[label] for w, p in zip(weights, piece_probs, strict=True)) / total
        for label in LABELS
    }


@dataclass(frozen=True)
class Head:
    """The quick model's classifier: softmax(W [(e - mean) / scale, w * lexicon] + b), where e
    is the transformer's document embedding and lexicon VADER's four scores. Plain numpy: a
    few microseconds per text, the same whichever runtime computed e."""

    mean: object  # np.ndarray (d,)
    scale: object  # np.ndarray (d,)
    weight: object  # np.ndarray (3, d + 4), classes in LABELS order
    bias: object  # np.ndarray (3,)

    @classmethod
    def load(cls, path: Path) -> Head:
        import numpy as np

        with np.load(path) as data:
            return cls(data["mean"], data["scale"], data["weight"], data["bias"])

    def save(self, path: Path) -> None:
        import numpy as np

        with path.open("wb") as handle:
            np.savez(handle, mean=self.mean, scale=self.scale, weight=self.weight, bias=self.bias)

    def features(self, embeddings, lexicon):
        import numpy as np

        standardised = (np.asarray(embeddings, dtype=np.float32) - self.mean) / self.scale
        lexicon = np.asarray(lexicon, dtype=np.float32).reshape(len(standardised), -1)
        return np.hstack([standardised, LEXICON_WEIGHT * lexicon])

    def probabilities(self, embeddings, lexicon):
        import numpy as np

        logits = self.features(embeddings, lexicon) @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def embed_texts(embeddings, texts: Sequence[str], batch_size: int = 32):
    """Document embeddings (numpy, one row per text) from flair ``embeddings`` (torch or ONNX).
    Batches hold texts of similar length: each batch is padded to its longest text."""
    import numpy as np
    from flair.data import Sentence

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embeddings.embedding_length), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        sentences = [Sentence(texts[i] if texts[i].strip() else ".") for i in chunk]
        embeddings.embed(sentences)
        for i, sentence in zip(chunk, sentences, strict=True):
            out[i] = sentence.get_embedding().detach().cpu().numpy()
    return out


class Classifier:
    """A loaded flair TextClassifier, its version, metadata, head and runtime."""

    def __init__(
        self,
        model,
        version: str,
        metadata: dict | None = None,
        *,
        head: Head | None = None,
        runtime: onnx.Runtime = "torch",
    ) -> None:
        self.model = model
        self.version = version
        self.metadata = metadata or {}
        self.head = head
        self.runtime = runtime
        # flair models are not safe to call from two threads at once (django-q2 workers are
        # processes, but a threaded web server calling the ad-hoc API is not).
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        version: str,
        metadata: dict | None = None,
        quantize: bool = False,
        runtime: str = "torch",
    ) -> Classifier:
        """Load ``path`` (a model.pt). ``runtime``: torch, onnx, onnx-q8 or auto (ONNX when
        onnxruntime is installed; int8 if the model's check allows it). An ONNX runtime that
        cannot be set up falls back to torch with a warning: scoring never stops for it."""
        configure_offline()
        if not path.is_file():
            raise ModelUnavailable(f"model file {path} does not exist")
        metadata = metadata or {}
        try:
            import torch
            from flair.models import TextClassifier

            model = TextClassifier.load(str(path))
            model.eval()
            head_file = path.parent / HEAD_FILE
            head = Head.load(head_file) if head_file.exists() else None
        except Exception as exc:  # noqa: BLE001  bad/partial files raise anything from pickle up
            raise ModelUnavailable(f"could not load model {path}: {exc}") from exc
        chosen = "torch" if quantize else onnx.choose(metadata, runtime)
        if chosen != "torch":
            try:
                files = onnx.export(model.embeddings, path.parent)
                onnx.swap_in(model, files[chosen])
            except Exception:  # noqa: BLE001  any ONNX trouble: torch still scores correctly
                logger.warning("ONNX runtime unavailable for %s, using torch", path, exc_info=True)
                chosen = "torch"
        if quantize and chosen == "torch":
            # int8 Linear layers in torch: measured 1.2-1.5x faster for about 1 point of F1.
            torch.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
            )
            version = f"{version}+q8"
        return cls(model, version, metadata, head=head, runtime=chosen)

    def embed(self, texts: Sequence[str], batch_size: int = 32):
        """The transformer's document embedding of each text (numpy, one row per text)."""
        with self._lock:
            return embed_texts(self.model.embeddings, texts, batch_size)

    def predict_probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[dict]:
        """Class probabilities for each text, as the model sees it (no long-text handling)."""
        if not texts:
            return []
        if self.head is not None:
            probs = self.head.probabilities(self.embed(texts, batch_size), lexicon_scores(texts))
            return [dict(zip(LABELS, map(float, row), strict=True)) for row in probs]
        from flair.data import Sentence

        sentences = [Sentence(text if text.strip() else ".") for text in texts]
        with self._lock:
            self.model.predict(
                sentences,
                mini_batch_size=batch_size,
                return_probabilities_for_all_classes=True,
                label_name=LABEL_TYPE,
                verbose=False,
            )
        out = []
        for sentence in sentences:
            probs = {label.value: label.score for label in sentence.get_labels(LABEL_TYPE)}
            out.append({label: probs.get(label, 0.0) for label in LABELS})
        return out

    def score(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        aggregation: Aggregation = DEFAULT_AGGREGATION,
    ) -> list[Score]:
        """Score texts; long ones are split into sentences scored in the same batches."""
        pieces: list[str] = []
        spans: list[tuple[int, int, bool]] = []  # (start, end, is_long) into pieces
        for text in texts:
            start = len(pieces)
            is_long = len(text.split()) > LONG_TEXT_WORDS
            pieces.extend(split_long_text(text) if is_long else [text])
            spans.append((start, len(pieces), is_long))
        probs = self.predict_probabilities(pieces, batch_size=batch_size) if pieces else []
        scores = []
        for start, end, is_long in spans:
            if is_long:
                words = [len(piece.split()) for piece in pieces[start:end]]
                combined = aggregate(probs[start:end], aggregation, words)
            else:
                combined = probs[start]
            scores.append(Score.from_probabilities(combined))
        return scores

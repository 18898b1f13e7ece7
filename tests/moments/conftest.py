"""A real (small) sentiment model for the test suite.

Trained once on a seeded quarter of the packaged data the way the quick model is (frozen MiniLM,
every text embedded once, a linear head fitted on the vectors: about a minute on 2 free cores,
deterministic), then cached outside the repository in
~/.cache/memorycrm/test-sentiment-model/<key>/, where <key> hashes the training configuration:
change the config and it retrains.
Set MEMORYCRM_TEST_MODEL_CACHE to put the cache elsewhere (CI can cache that directory).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from django.utils import timezone

from moments.models import SentimentModel
from moments.sentiment.onnx import Q8_FILE
from moments.sentiment.training import TrainConfig, train

TEST_CONFIG = TrainConfig(mode="quick", seed=7, fraction=0.25)


def _cache_root() -> Path:
    default = Path.home() / ".cache" / "memorycrm"
    return Path(os.environ.get("MEMORYCRM_TEST_MODEL_CACHE") or default)


@pytest.fixture(scope="session")
def trained_model_path() -> Path:
    """Path of the cached test model.pt, training it on first use."""
    return cached_test_model()


def cached_test_model() -> Path:
    """Path of the cached test model.pt, training it on first use. A plain function, so that
    the benches (bench/moments.py) score with exactly the model the tests use."""
    import flair

    root = _cache_root()
    # The int8 file's name changes with how it is quantised (and the metadata's check with it).
    key = f"{TEST_CONFIG.cache_key()[:16]}-flair{flair.__version__}-{Path(Q8_FILE).stem}"
    model_dir = root / "test-sentiment-model" / key
    pointer = model_dir / "ready.json"
    model_dir.mkdir(parents=True, exist_ok=True)
    # Several test sessions (other apps' suites, CI jobs) may start at once: one trains, the
    # others wait for it and reuse the result.
    with (model_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if pointer.exists():
            path = model_dir / json.loads(pointer.read_text())["path"]
            if path.exists():
                return path
        result = train(TEST_CONFIG, model_dir=model_dir, cache_dir=root / "sentiment-cache")
        pointer.write_text(json.dumps({"path": str(result.path.relative_to(model_dir))}))
        return result.path


@pytest.fixture
def sentiment_model(db, trained_model_path: Path) -> SentimentModel:
    """The test model, registered as the active (ready) sentiment model."""
    metadata = json.loads((trained_model_path.parent / "metadata.json").read_text())
    return SentimentModel.objects.create(
        kind=SentimentModel.Kind.QUICK,
        status=SentimentModel.Status.READY,
        version=metadata["version"],
        path=str(trained_model_path),
        metadata=metadata,
        progress=1.0,
        finished_at=timezone.now(),
        activated_at=timezone.now(),
    )

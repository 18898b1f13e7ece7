"""The model each process scores with: loaded lazily, once, and swapped when a newer one is
activated. Heavy (hundreds of MB resident; bench/sentiment.py measures torch and ONNX), so
never loaded in the web process unless the ad-hoc scoring API is used.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from django.conf import settings

from .classifier import Classifier, ModelUnavailable
from .runtime import configure_offline

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: Classifier | None = None
_loaded_key: tuple[str, str] | None = None  # (version, path)


def resolve(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(settings.SENTIMENT_MODEL_DIR) / candidate


def read_metadata(model_path: Path) -> dict:
    meta = model_path.parent / "metadata.json"
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}


def get_classifier() -> Classifier:
    """The active model, loading it on first use or when a newer one was activated.

    Costs one small query per call (which model is active), so callers call it once per batch.
    Raises ModelUnavailable when no model is ready, or when the active one cannot be loaded; in
    that case the model's row is marked failed (the previous ready model takes over next call).
    """
    global _loaded, _loaded_key
    from moments.sentiment import selectors, services  # cycle: services load the model through here

    active = selectors.active_sentiment_model()
    if active is None:
        raise ModelUnavailable("no sentiment model is ready yet (training may be in progress)")
    key = (active.version, active.path)
    with _lock:
        if _loaded is not None and _loaded_key == key:
            return _loaded
        configure_offline(Path(settings.SENTIMENT_CACHE_DIR) / "flair")
        pin_threads()
        path = resolve(active.path)
        try:
            classifier = Classifier.load(
                path,
                version=active.version,
                metadata=read_metadata(path),
                quantize=settings.SENTIMENT_QUANTIZE,
                runtime=settings.SENTIMENT_RUNTIME,
            )
        except ModelUnavailable as exc:
            logger.error("Sentiment model %s unavailable: %s", active.version, exc.reason)
            services.mark_model_broken(model=active, reason=exc.reason)
            raise
        logger.info(
            "Loaded sentiment model %s from %s (%s)", classifier.version, path, classifier.runtime
        )
        _loaded, _loaded_key = classifier, key
        return classifier


def pin_threads() -> None:
    """SENTIMENT_THREADS > 0: torch uses that many threads in this process (onnxruntime reads
    the same setting, moments/sentiment/onnx.py). One per worker process lets several workers
    (or hosts) share the cores instead of each taking them all."""
    threads = settings.SENTIMENT_THREADS
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def unload() -> None:
    """Forget the loaded model (tests; frees memory)."""
    global _loaded, _loaded_key
    with _lock:
        _loaded, _loaded_key = None, None

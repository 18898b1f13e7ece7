"""Serving through flair's own ONNX export, beside plain torch.

flair exports a transformer embedding with ``TransformerEmbeddings.export_onnx`` and serves it
with ``TransformerOnnxDocumentEmbeddings`` (onnxruntime); ``quantize_model`` wraps
onnxruntime's int8 dynamic quantisation. We use exactly that: the classifier keeps its flair
decoder (or the quick model's head) and only ``model.embeddings`` is swapped for the ONNX one.

Files, next to ``model.pt`` and built from it (never committed, rebuilt if missing)::

    <version>/embeddings.onnx       fp32, same numbers as torch (max |diff| ~1e-6)
    <version>/embeddings-int8.onnx  int8 weights, one scale per output channel: served only
                                    if the model's dev macro-F1 stays within
                                    QUALITY_TOLERANCE of torch (metadata "onnx")

Per-channel scales, not onnxruntime's default of one scale per weight matrix: measured on the
quick model's held-out test splits, one scale per matrix changed 10 % of the labels (nyt
macro-F1 -0.021, long documents +0.038), one per channel 3-4 % (every split within 0.02), at
the same speed (docs/sentiment.md). The file name changed with it, so a model quantised the
old way is quantised again by the first worker that loads it.

Two details flair 0.15 does not handle by itself on torch >= 2.9:

* ``torch.onnx.export`` now defaults to the dynamo exporter, which cannot trace flair's mean
  pooling (a loop over the batch, marked ``torch.jit.script_if_tracing`` for the TorchScript
  exporter). The export runs with ``dynamo=False``, the exporter flair was written for.
* onnxruntime's quantiser needs ``DefaultTensorType`` (float) where shape inference is
  disabled, as flair's tutorial advises for large models.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

Runtime = Literal["torch", "onnx", "onnx-q8"]
FP32_FILE = "embeddings.onnx"
Q8_FILE = "embeddings-int8.onnx"
# int8 is served only if its macro-F1 on the dev split is within this of torch's...
QUALITY_TOLERANCE = 0.01
# ...and on each source's part of it (about 600 rows: 3 labels flipping either way move it by
# 0.01, so 0.01 there refuses noise: the fine-tuned model's per-channel int8 lost 0.0116 on
# amazon's dev rows and 0.002 on its test rows; the old per-matrix int8 lost 0.021 on nyt's).
SOURCE_TOLERANCE = 0.02

# Texts of varied length for tracing (flair's tutorial: "2-4 sentences with some variation").
EXAMPLES = (
    "Thanks, the replacement arrived a day early and works perfectly.",
    "No.",
    "I have called three times about the same invoice, nobody calls back, and now I am being "
    "charged a late fee for a payment your own system lost. Please sort this out today.",
)


def available() -> bool:
    """Is onnxruntime importable (the ``onnx`` runtime is then chosen automatically)?"""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _torchscript_exporter() -> Iterator[None]:
    import torch

    original = torch.onnx.export
    torch.onnx.export = functools.partial(original, dynamo=False)
    try:
        yield
    finally:
        torch.onnx.export = original


@contextmanager
def _root_logger_quiet() -> Iterator[None]:
    """onnxruntime's quantiser logs dozens of lines per model through the root logger
    (``logging.info``), which `make run` would print; only its errors are kept."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def export(embeddings, directory: Path, *, quantize: bool = True) -> dict[str, Path]:
    """Export flair transformer ``embeddings`` (torch) to ``directory``: the fp32 graph, and
    its int8 quantisation. Each file is written under a temporary name and renamed into place,
    so two workers exporting at once never read half a file. Returns the paths written."""
    from flair.data import Sentence

    directory.mkdir(parents=True, exist_ok=True)
    paths = {"onnx": directory / FP32_FILE}
    if quantize:
        paths["onnx-q8"] = directory / Q8_FILE
    if all(path.exists() for path in paths.values()):
        return paths
    tmp = Path(tempfile.mkdtemp(prefix=".onnx-", dir=directory))
    try:
        fp32 = tmp / FP32_FILE
        with _torchscript_exporter():
            onnx_embeddings = embeddings.export_onnx(
                str(fp32), [Sentence(text) for text in EXAMPLES], providers=PROVIDERS
            )
        if quantize:
            with _root_logger_quiet():
                onnx_embeddings.quantize_model(
                    str(tmp / Q8_FILE),
                    per_channel=True,
                    extra_options={"DisableShapeInference": True, "DefaultTensorType": 1},
                )
            logger.info("Quantised %s to int8", fp32.name)
        onnx_embeddings.remove_session()
        for path in paths.values():
            if not path.exists():
                os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return paths


PROVIDERS = ["CPUExecutionProvider"]


def embeddings_for(torch_embeddings, path: Path):
    """flair's ONNX document embeddings reading ``path``, configured like ``torch_embeddings``
    (tokenizer, pooling, lengths)."""
    from django.conf import settings
    from flair.embeddings import TransformerOnnxDocumentEmbeddings

    threads = settings.SENTIMENT_THREADS  # 0: onnxruntime's default
    return TransformerOnnxDocumentEmbeddings(
        onnx_model=str(path),
        providers=PROVIDERS,
        session_options={"intra_op_num_threads": threads} if threads else None,
        **torch_embeddings.to_args(),
    )


def swap_in(model, path: Path):
    """Replace ``model.embeddings`` (flair, torch) by flair's ONNX embeddings reading ``path``;
    the torch transformer is released."""
    model.embeddings = embeddings_for(model.embeddings, path)
    return model.embeddings


def choose(metadata: dict, requested: str) -> Runtime:
    """The runtime to serve with: ``requested`` is auto | torch | onnx | onnx-q8 (the setting).
    auto = ONNX when onnxruntime is installed, int8 when the model's check of *this* int8 file
    allows it (a check made for another quantisation says nothing about it: fp32 then)."""
    if requested == "torch" or (requested == "auto" and not available()):
        return "torch"
    if requested in ("onnx", "onnx-q8"):
        return requested  # type: ignore[return-value]
    check = metadata.get("onnx", {})
    keeps = check.get("q8_keeps_quality") and check.get("file") == Q8_FILE
    return "onnx-q8" if keeps else "onnx"


def quality_check(gold: Sequence[str], torch_labels, q8_labels, sources: Sequence[str]) -> dict:
    """What metadata records about int8: macro-F1 of torch and int8 on the dev split, in all
    and per source, and whether int8 is served: only if the whole dev split loses at most
    QUALITY_TOLERANCE and no source more than SOURCE_TOLERANCE (a collapse on one kind of text
    is not made up by a gain on another)."""
    from .evaluation import macro_f1

    splits = {"dev": list(range(len(gold)))}
    for index, source in enumerate(sources):
        splits.setdefault(f"dev_{source}", []).append(index)
    per_split = {}
    for name, rows in splits.items():
        g = [gold[i] for i in rows]
        per_split[name] = [
            round(macro_f1(g, [torch_labels[i] for i in rows])["macro_f1"], 4),
            round(macro_f1(g, [q8_labels[i] for i in rows])["macro_f1"], 4),
        ]
    return {
        "dev_macro_f1_torch": per_split["dev"][0],
        "dev_macro_f1_q8": per_split["dev"][1],
        "per_split": per_split,
        "q8_keeps_quality": all(
            a - b <= (QUALITY_TOLERANCE if name == "dev" else SOURCE_TOLERANCE)
            for name, (a, b) in per_split.items()
        ),
        "tolerance": QUALITY_TOLERANCE,
        "source_tolerance": SOURCE_TOLERANCE,
        "file": Q8_FILE,
    }

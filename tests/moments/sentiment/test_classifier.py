"""The trained model itself (real flair model, loaded by file path)."""

from pathlib import Path

import pytest

from moments.sentiment.classifier import (
    LONG_TEXT_WORDS,
    MAX_PIECES,
    Classifier,
    ModelUnavailable,
    split_long_text,
)


@pytest.fixture(scope="module")
def classifier(trained_model_path: Path) -> Classifier:
    return Classifier.load(trained_model_path, version="test")


def test_clearly_angry_text_scores_negative(classifier):
    [score] = classifier.score(
        ["This is the worst service ever. I am furious, nobody answers and my order is lost!"]
    )
    assert score.label == "negative"
    assert score.score < -0.3


def test_thanks_scores_positive(classifier):
    [score] = classifier.score(["Thank you so much, the agent was wonderful and really helpful!"])
    assert score.label == "positive"
    assert score.score > 0.3


def test_scores_are_in_range(classifier):
    scores = classifier.score(["ok", "The parcel arrived on Tuesday.", "Great!", "Awful."])
    for score in scores:
        assert -1 <= score.score <= 1
        assert 0 <= score.confidence <= 1
        assert score.label in {"negative", "neutral", "positive"}


def test_long_text_is_scored_by_its_sentences(classifier):
    text = (
        "Hello, I am writing about order 4471 that I placed on the 3rd of March. "
        "The parcel was supposed to arrive on Monday and the tracking page still shows it in "
        "the warehouse. I called your hotline twice and was put on hold for forty minutes "
        "each time. This is the worst service I have ever had, I am furious and I want a full "
        "refund today. Please call me back on the number in my profile. Sam"
    )
    assert len(text.split()) > LONG_TEXT_WORDS
    [score] = classifier.score([text])
    assert score.label == "negative"


def test_long_text_split_keeps_both_ends():
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    pieces = split_long_text(text)
    assert len(pieces) == MAX_PIECES
    assert pieces[0].startswith("Sentence number 0 ")
    assert pieces[-1].startswith("Sentence number 99 ")


def test_missing_model_file_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        Classifier.load(tmp_path / "nope.pt", version="x")


def test_corrupt_model_file_is_unavailable(tmp_path):
    broken = tmp_path / "model.pt"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(ModelUnavailable, match="could not load"):
        Classifier.load(broken, version="x")

"""The trained model itself (real flair model, loaded by file path)."""

import json
import logging
import shutil
from pathlib import Path

import pytest

from moments.sentiment import onnx
from moments.sentiment.classifier import (
    LONG_TEXT_WORDS,
    MAX_PIECES,
    Classifier,
    ModelUnavailable,
    aggregate,
    split_long_text,
)
from moments.sentiment.evaluation import macro_f1


@pytest.fixture(scope="module")
def classifier(trained_model_path: Path) -> Classifier:
    return Classifier.load(trained_model_path, version="test", runtime="torch")


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
    assert score.label != "positive" and score.score < -0.15


RECOVERED = (
    "Hi team, my order 4471 arrived two weeks late and the box was damaged, and I was on hold "
    "for forty minutes when I called. I was really annoyed. But Priya called me back the same "
    "day, sent a replacement overnight and refunded the shipping. It works perfectly and I am "
    "very happy with how you handled it. Thanks a lot, Sam"
)
STAYED_BAD = (
    "Hi team, my order 4471 arrived two weeks late and the box was damaged, and I was on hold "
    "for forty minutes when I called. I was really annoyed. Nobody called me back, the "
    "replacement never came and I was charged for the shipping again. It still does not work "
    "and I am very unhappy with how you handled it. Sam"
)


def test_a_long_complaint_that_ends_in_thanks_reads_as_a_recovery(classifier):
    # Peak-end: the default weighs the last sentences most, so the same bad start followed by a
    # good outcome scores well above the one followed by a bad outcome, and is not negative.
    assert len(RECOVERED.split()) > LONG_TEXT_WORDS
    recovered, stayed_bad = classifier.score([RECOVERED, STAYED_BAD])
    assert recovered.label != "negative"
    assert recovered.score > stayed_bad.score + 0.3
    assert stayed_bad.label != "positive"


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


def test_onnx_runtime_scores_as_torch_does(classifier, trained_model_path):
    """flair's ONNX export (written next to the model by training) gives the torch numbers."""
    texts = ["ok", "The parcel arrived on Tuesday.", "Great!", "Awful, never again."]
    served = Classifier.load(trained_model_path, version="test", runtime="onnx")
    assert served.runtime == "onnx"
    for ours, theirs in zip(served.score(texts), classifier.score(texts), strict=True):
        assert ours.label == theirs.label
        assert abs(ours.score - theirs.score) < 1e-4


def test_auto_runtime_prefers_onnx_and_int8_only_when_it_keeps_quality(trained_model_path):
    metadata = json.loads((trained_model_path.parent / "metadata.json").read_text())
    served = Classifier.load(trained_model_path, version="test", metadata=metadata, runtime="auto")
    check = metadata["onnx"]
    assert served.runtime == ("onnx-q8" if check["q8_keeps_quality"] else "onnx")
    assert check["dev_macro_f1_torch"] - check["dev_macro_f1_q8"] <= 0.01 or (
        served.runtime == "onnx"
    )


def test_a_missing_onnx_file_is_rebuilt_from_the_model(trained_model_path, tmp_path, caplog):
    copy = tmp_path / "model"
    shutil.copytree(trained_model_path.parent, copy)
    for path in copy.glob("*.onnx"):
        path.unlink()
    with caplog.at_level(logging.INFO):
        served = Classifier.load(copy / "model.pt", version="test", runtime="onnx")
    assert served.runtime == "onnx" and (copy / "embeddings.onnx").exists()
    assert (copy / "embeddings-int8.onnx").exists()
    assert served.score(["Thank you so much, wonderful help!"])[0].label == "positive"
    # The quantiser's dozens of lines on the root logger stay out of `make run`'s output.
    assert [r.getMessage() for r in caplog.records if r.name == "root"] == []


def test_int8_weights_have_a_scale_per_output_channel(trained_model_path):
    # One scale per matrix flipped 10 % of the labels; one per channel 3-4 % (docs/sentiment.md).
    import onnx as onnx_format

    Classifier.load(trained_model_path, version="test", runtime="onnx-q8")
    graph = onnx_format.load(str(trained_model_path.parent / "embeddings-int8.onnx")).graph
    scales = [t for t in graph.initializer if t.name.endswith("_scale") and "MatMul" in t.name]
    assert scales, "no quantised MatMul weights"
    assert all(len(t.dims) == 1 and t.dims[0] > 1 for t in scales)


def test_int8_is_not_served_if_one_dev_source_collapses():
    gold = ["positive", "negative"] * 10 + ["neutral", "positive"] * 10
    sources = ["amazon"] * 20 + ["tweets"] * 20
    # int8 gets two amazon rows wrong and two tweets rows right that torch got wrong: the same
    # macro-F1 in all, but amazon loses far more than 0.02.
    torch_labels = list(gold)
    torch_labels[20] = torch_labels[22] = "negative"
    q8_labels = list(gold)
    q8_labels[0] = q8_labels[2] = "negative"
    check = onnx.quality_check(gold, torch_labels, q8_labels, sources)
    drop = check["per_split"]["dev_amazon"][0] - check["per_split"]["dev_amazon"][1]
    assert drop > onnx.SOURCE_TOLERANCE
    whole_dev = check["per_split"]["dev"]
    assert whole_dev[0] - whole_dev[1] <= onnx.QUALITY_TOLERANCE
    assert not check["q8_keeps_quality"]
    assert onnx.choose({"onnx": check}, "auto") == "onnx"
    same = onnx.quality_check(gold, torch_labels, torch_labels, sources)
    assert same["q8_keeps_quality"] and onnx.choose({"onnx": same}, "auto") == "onnx-q8"


def test_a_check_made_for_another_int8_file_does_not_serve_this_one():
    check = {"q8_keeps_quality": True, "file": "embeddings-q8.onnx"}  # quantised the old way
    assert onnx.choose({"onnx": check}, "auto") == "onnx"
    assert onnx.choose({"onnx": check}, "onnx-q8") == "onnx-q8"  # asked for explicitly


def test_torch_runtime_is_kept_when_asked(trained_model_path):
    assert Classifier.load(trained_model_path, version="t", runtime="torch").runtime == "torch"


def test_ending_weighs_the_last_sentences_most():
    opening = {"negative": 0.9, "neutral": 0.05, "positive": 0.05}
    closing = {"negative": 0.05, "neutral": 0.05, "positive": 0.9}
    assert aggregate([opening, closing], "mean")["positive"] == pytest.approx(0.475)
    assert aggregate([opening, closing], "ending")["positive"] > 0.6


def test_macro_f1_averages_only_the_classes_present():
    # Rotten Tomatoes has no neutral: a neutral prediction is a miss, not a third class.
    result = macro_f1(["positive", "negative", "positive"], ["positive", "neutral", "positive"])
    assert set(result["per_class"]) == {"negative", "positive"}
    assert result["macro_f1"] == pytest.approx(0.5)
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-4)


def test_sentiment_threads_pins_torch_in_the_worker_process(settings):
    import torch

    from moments.sentiment import loader

    before = torch.get_num_threads()
    settings.SENTIMENT_THREADS = 1
    try:
        loader.pin_threads()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    settings.SENTIMENT_THREADS = 0
    loader.pin_threads()  # 0: leaves torch's default alone
    assert torch.get_num_threads() == before

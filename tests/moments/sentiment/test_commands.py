"""The management commands: first-run training queue, rescoring, and a real (tiny) training."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from customers.models import Interaction
from moments.models import SentimentCorrection, SentimentModel
from moments.sentiment import services
from tests.factories import InteractionFactory


def _queued(func: str) -> list:
    return [task for task in OrmQ.objects.all() if task.task["func"] == func]


def test_first_run_queues_quick_then_full_training_without_blocking(
    db, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("ensure_sentiment_model")

    run = SentimentModel.objects.get()
    assert (run.kind, run.status) == ("quick", "queued")
    [task] = _queued("moments.sentiment.tasks.train_model")
    assert task.task["args"] == (run.pk, True)
    assert Schedule.objects.filter(
        name="sentiment-sweep", func="moments.sentiment.tasks.score_pending"
    ).exists()
    assert "queued quick training" in capsys.readouterr().out


def test_nothing_is_queued_while_a_training_runs(db):
    SentimentModel.objects.create(kind="quick", status="training")
    assert services.ensure_sentiment_model() == "training already in progress"
    assert not _queued("moments.sentiment.tasks.train_model")


def test_a_training_whose_worker_died_is_marked_failed_and_requeued(
    db, django_capture_on_commit_callbacks
):
    stale = SentimentModel.objects.create(kind="quick", status="training")
    SentimentModel.objects.filter(pk=stale.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.ensure_sentiment_model()

    stale.refresh_from_db()
    assert stale.status == "failed" and "worker stopped" in stale.message
    assert SentimentModel.objects.filter(status="queued").count() == 1


def test_quick_model_ready_queues_the_full_one(sentiment_model):
    message = services.ensure_sentiment_model()
    assert "queued full training" in message
    assert SentimentModel.objects.filter(kind="full", status="queued").exists()


def test_rescore_pending_scores_with_a_progress_bar(sentiment_model, customer, capsys):
    interactions = [InteractionFactory(customer=customer) for _ in range(3)]
    call_command("rescore", "--pending")
    assert not Interaction.objects.filter(
        pk__in=[i.pk for i in interactions], scored_at=None
    ).exists()
    captured = capsys.readouterr()
    assert "Scored 3 of 3" in captured.out
    assert "3/3" in captured.err  # tqdm


def test_rescore_all_rescores_scored_rows(sentiment_model, customer):
    interaction = InteractionFactory(customer=customer, subject="Thanks!", body="Great help.")
    services.score_interactions(ids=[interaction.pk])
    call_command("rescore", "--all")
    interaction.refresh_from_db()
    assert interaction.sentiment_model == sentiment_model.version


def test_rescore_without_a_model_fails_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Sentiment model unavailable"):
        call_command("rescore")


def test_train_sentiment_with_corrections_records_before_and_after(
    sentiment_model, customer, agent, settings, tmp_path, trained_model_path
):
    """A real, tiny training run through the command (about a minute)."""
    settings.SENTIMENT_MODEL_DIR = tmp_path
    settings.SENTIMENT_CACHE_DIR = Path(trained_model_path).parents[2] / "sentiment-cache"
    for i in range(12):
        interaction = InteractionFactory(
            customer=customer,
            subject=f"Ticket {i}",
            body="The courier left it with the neighbour again.",
        )
        services.correct_sentiment(interaction=interaction, label="negative", user=agent)
    assert SentimentCorrection.objects.count() == 12

    call_command(
        "train_sentiment", "--quick", "--with-corrections", "--fraction", "0.03", "--seed", "3"
    )

    run = SentimentModel.objects.exclude(pk=sentiment_model.pk).get()
    assert run.status == "ready" and run.activated_at is not None
    meta = json.loads((tmp_path / run.path).with_name("metadata.json").read_text())
    assert meta["corrections"]["train"] + meta["corrections"]["test"] == 12
    assert "before" in meta["corrections"] and "after" in meta["corrections"]
    assert {s["source"] for s in meta["sources"]} == {"tweets", "amazon", "nyt", "rt"}
    assert all(len(s["sha256"]) == 64 for s in meta["sources"])
    assert meta["split_sizes"]["train"]["corrections"] == meta["corrections"]["train"]
    assert "hutto3_test" in meta["metrics"] and "hutto3_test" in meta["vader"]

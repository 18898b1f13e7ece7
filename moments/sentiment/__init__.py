"""Sentiment analysis with a flair classifier trained offline from packaged data.

services.py    every write: scores (write_scores, the one writer of any scored text), training
               runs and their status, agents' corrections
selectors.py   reads: the active model, the status page, a customer's series, what to score
tasks.py       django-q2 task bodies (queued through moments.enqueue)
views.py       the status page, an interaction's badge and its one-click correction (forms.py)
api/           /api/v1/sentiment/: ad-hoc scoring and the model's status
receivers.py   logged interactions are queued for scoring

data.py        labelled data read out of two PyPI wheels; seeded splits by document
training.py    quick (frozen MiniLM) / full (fine-tuned) training, evaluation, model + metadata
evaluation.py  macro-F1 per split and class; the VADER baseline on the same rows
classifier.py  a loaded model: batched scoring, signed score, long texts (sentence split)
loader.py      the active model, loaded lazily once per process
runtime.py     offline settings that must precede importing flair

Nothing here imports torch or flair at module import time: the web process stays light.
See docs/sentiment.md.
"""

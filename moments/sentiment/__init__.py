"""Sentiment analysis with a flair classifier trained offline from packaged data.

data.py        labelled data read out of two PyPI wheels; seeded splits by document
training.py    quick (frozen MiniLM) / full (fine-tuned) training, evaluation, model + metadata
evaluation.py  macro-F1 per split and class; the VADER baseline on the same rows
classifier.py  a loaded model: batched scoring, signed score, long texts (sentence split)
loader.py      the active model, loaded lazily once per process
runtime.py     offline settings that must precede importing flair

Nothing here imports torch or flair at module import time: the web process stays light.
See docs/sentiment.md.
"""

# The real test sentiment model (trained once, cached), for the worker-kill test.
from tests.moments.conftest import sentiment_model, trained_model_path  # noqa: F401

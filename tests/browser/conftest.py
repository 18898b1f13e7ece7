import pytest

from tests.moments.conftest import sentiment_model, trained_model_path  # noqa: F401


@pytest.fixture
def contexts():
    """Pages a test opened with helpers.new_page(): their browser contexts close when it ends."""
    pages = []
    yield pages
    for page in pages:
        page.context.close()

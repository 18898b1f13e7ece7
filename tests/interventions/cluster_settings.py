"""Settings for the qcluster subprocess of test_cluster.py: the project's, plus a file email
backend writing where the test can read (the subprocess's mail is not in this process's outbox)."""

import os

from memorycrm.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["TEST_EMAIL_FILE_PATH"]

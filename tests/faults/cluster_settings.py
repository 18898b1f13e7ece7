"""Settings for the qcluster subprocesses of test_worker_kill.py: the project's, with emails
written as files where the test reads them (see hanging_email.py)."""

import os

from memorycrm.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.faults.hanging_email.EmailBackend"
EMAIL_FILE_PATH = os.environ["TEST_EMAIL_FILE_PATH"]

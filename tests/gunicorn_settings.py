"""Settings for the gunicorn processes of tests/hosts.py: the project's, a header naming the
process that answered (so a test can see that several did), and the test suite's password
hasher (the users are made by the test process)."""

from memorycrm.settings import *  # noqa: F403
from memorycrm.settings import MIDDLEWARE

MIDDLEWARE = ["tests.hosts.served_by", *MIDDLEWARE]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

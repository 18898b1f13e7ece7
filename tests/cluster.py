"""`manage.py qcluster` as a subprocess on the test database, for the real-cluster tests
(@pytest.mark.cluster): the one way they start and stop a worker (fixtures `start_cluster`,
`cluster` and `mail_cluster` in tests/conftest.py).

Stopping: SIGTERM to the cluster's parent process only. It stops its own workers, monitor and
pusher in a few seconds; a SIGTERM sent to the whole process group at once left it waiting for
its 30 s timeout, every test. Only if it hangs does the whole group get SIGKILL.
"""

from __future__ import annotations

import contextlib
import email
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
# What the file email backend writes after each message.
_MESSAGE_END = b"\n" + b"-" * 79 + b"\n"


def database_url() -> str:
    """The test database as a URL the worker process can open (a file for SQLite)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = (db["USER"] or "") + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{db['NAME']}"


class Cluster:
    """One `manage.py qcluster` in its own process group (the guard, workers, monitor), its
    output in `log_path`. With `mail_dir`, it runs tests.interventions.cluster_settings: its
    emails are files there (`emails()`). `env` adds or overrides environment variables."""

    def __init__(self, log_path: Path, *, mail_dir: Path | None = None, **env: str) -> None:
        self.log_path = log_path
        self.mail_dir = mail_dir
        mail: dict[str, str] = {}
        if mail_dir is not None:
            mail_dir.mkdir(parents=True, exist_ok=True)
            mail = {
                "DJANGO_SETTINGS_MODULE": "tests.interventions.cluster_settings",
                "TEST_EMAIL_FILE_PATH": str(mail_dir),
            }
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=os.environ
            | {
                "DATABASE_URL": database_url(),
                "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
                "DEBUG": "1",
                "MEMORYCRM_DATA_DIR": str(settings.DATA_DIR),
                "SENTIMENT_CACHE_DIR": str(settings.SENTIMENT_CACHE_DIR),
                "Q_WORKERS": "1",
                "Q_POLL": "0.2",
            }
            | mail
            | env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def poll(self) -> int | None:
        return self.process.poll()

    def tail(self, chars: int = 3000) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()[-chars:]

    def wait_for(
        self,
        check: Callable[[], Any],
        *,
        timeout: float,
        interval: float = 0.2,
        state: Callable[[], Any] = lambda: None,
    ) -> None:
        """Until check() is true; fails at once if the cluster died, or after `timeout` seconds,
        with state() and the end of the log."""
        deadline = time.monotonic() + timeout
        while not check():
            assert self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, (state(), self.tail())
            time.sleep(interval)

    def stop(self) -> None:
        """SIGTERM to the parent (see the module's docstring); SIGKILL to the group if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._kill_group()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL to the whole group, as a crash or the OOM killer would (the fault tests)."""
        if self.process.poll() is None:
            self._kill_group()
        self.log.close()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def emails(self) -> list[email.message.EmailMessage]:
        """Every message the cluster sent (with `mail_dir`), oldest file first."""
        found = []
        for path in sorted(self.mail_dir.iterdir()) if self.mail_dir else []:
            for chunk in path.read_bytes().split(_MESSAGE_END):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk, policy=policy.default))
        return found

    def wait_for_email(
        self, to: str, subject: str, *, timeout: float = 60
    ) -> email.message.EmailMessage:
        """The first message to `to` whose subject contains `subject`, once it was sent."""
        found: list[email.message.EmailMessage] = []

        def arrived() -> bool:
            found[:] = [m for m in self.emails() if m["To"] == to and subject in m["Subject"]]
            return bool(found)

        self.wait_for(arrived, timeout=timeout, state=lambda: f"no email {subject!r} to {to}")
        return found[0]

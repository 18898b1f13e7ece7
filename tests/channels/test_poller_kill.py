"""A poller process killed with SIGKILL in the middle of a mailbox: the next poll stores what
is missing and nothing twice (a real Dovecot, a real process, a real PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from customers.channels import imap
from customers.models import InboundEmail, Interaction, Mailbox
from tests.channels.mail import make_email

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 300

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """The test database, for the poller process."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_poller_killed_mid_mailbox_stores_each_message_once(dovecot, imap_account):
    if connection.vendor != "postgresql":
        pytest.skip("a second process writing needs PostgreSQL")
    username, password, env = imap_account
    dovecot.append(
        username,
        password,
        [make_email(sender=f"c{i % 9}@example.com", text=f"Message {i}.") for i in range(MESSAGES)],
    )
    mailbox = Mailbox.objects.create(
        name="support",
        host=dovecot.host,
        port=dovecot.port,
        security=Mailbox.Security.NONE,
        username=username,
        password_env=env,
    )
    code = (
        "import django; django.setup(); from customers.channels import imap; "
        f"imap.poll_mailbox({mailbox.pk}, batch_size=5)"
    )
    poller = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=os.environ
        | {
            "DATABASE_URL": database_url(),
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "memorycrm.settings",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while InboundEmail.objects.count() < 20:
            assert poller.poll() is None, poller.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(poller.pid, signal.SIGKILL)
        poller.wait(timeout=10)
    taken_before = InboundEmail.objects.count()
    assert taken_before < MESSAGES  # killed mid-way
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid < MESSAGES

    result = imap.poll_mailbox(mailbox.pk)

    assert result.error == ""
    assert InboundEmail.objects.count() == MESSAGES
    assert Interaction.objects.count() == MESSAGES
    assert result.stored == MESSAGES - taken_before
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid == MESSAGES

"""Polling a real Dovecot mailbox (started by the `dovecot` fixture, tests/dovecot.py)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django_q.models import OrmQ, Schedule

from customers.channels import imap, tasks
from customers.channels.inbound import ingest_email
from customers.models import InboundEmail, Interaction, Mailbox
from tests.channels.mail import bounce, make_email

Kind = InboundEmail.Kind


def make_mailbox(dovecot, imap_account, **fields) -> Mailbox:
    username, _, env = imap_account
    return Mailbox.objects.create(
        name=fields.pop("name", f"support-{username}"),
        host=dovecot.host,
        port=dovecot.port,
        security=Mailbox.Security.NONE,
        username=username,
        password_env=env,
        **fields,
    )


def deliver(dovecot, imap_account, messages: list[bytes], folder: str = "INBOX") -> None:
    username, password, _ = imap_account
    dovecot.append(username, password, messages, folder=folder)


def folder_state(dovecot, imap_account, folder: str = "INBOX") -> dict[int, tuple]:
    username, password, _ = imap_account
    with dovecot.client(username, password) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        if not uids:
            return {}
        return {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()}


@pytest.mark.django_db
def test_poll_takes_new_messages_once_and_flags_them(dovecot, imap_account, customer):
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email(text=f"Message number {i}.") for i in range(3)])

    result = imap.poll_mailbox(mailbox.pk, batch_size=2)
    assert (result.fetched, result.stored, result.error) == (3, 3, "")
    assert Interaction.objects.filter(customer=customer, channel="email").count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3 and mailbox.uid_validity and mailbox.last_error == ""
    assert all(
        b"\\Seen" in flags and imap.KEYWORD in flags
        for flags in folder_state(dovecot, imap_account).values()
    )

    # Nothing new: nothing fetched. A new message: only it.
    assert imap.poll_mailbox(mailbox.pk).fetched == 0
    deliver(dovecot, imap_account, [make_email(text="One more thing.")])
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.fetched, result.stored) == (1, 1)
    assert Interaction.objects.count() == 4


@pytest.mark.django_db
def test_a_server_refusing_keywords_still_gets_the_messages_seen(
    dovecot, imap_account, customer, monkeypatch
):
    """\\Seen and the keyword go in one command; a server that refuses keywords (as some
    do) gets \\Seen alone, and the poll goes on."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    add_flags = IMAPClient.add_flags

    def refusing_keywords(self, messages, flags, silent=False):
        if imap.KEYWORD in flags:  # what such a server answers: NO
            raise IMAPClientError("STORE failed: keywords are not allowed")
        return add_flags(self, messages, flags, silent)

    monkeypatch.setattr(IMAPClient, "add_flags", refusing_keywords)
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email(text=f"Message {i}.") for i in range(3)])
    result = imap.poll_mailbox(mailbox.pk, batch_size=2)
    assert (result.fetched, result.stored, result.error) == (3, 3, "")
    flags = folder_state(dovecot, imap_account).values()
    assert all(b"\\Seen" in f and imap.KEYWORD not in f for f in flags) and len(flags) == 3
    assert imap.poll_mailbox(mailbox.pk).fetched == 0


@pytest.mark.django_db
def test_move_mode_moves_taken_messages_to_the_processed_folder(dovecot, imap_account, customer):
    mailbox = make_mailbox(
        dovecot, imap_account, after_ingest=Mailbox.AfterIngest.MOVE, processed_folder="Done"
    )
    deliver(dovecot, imap_account, [make_email(), make_email()])
    assert imap.poll_mailbox(mailbox.pk).stored == 2
    assert folder_state(dovecot, imap_account) == {}
    assert len(folder_state(dovecot, imap_account, "Done")) == 2


@pytest.mark.django_db
def test_new_uidvalidity_reads_the_folder_again_without_duplicates(dovecot, imap_account, customer):
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email(), make_email()])
    imap.poll_mailbox(mailbox.pk)
    Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=1)  # the server renumbered
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.fetched, result.duplicates, result.stored) == (2, 2, 0)
    assert Interaction.objects.count() == 2


@pytest.mark.django_db
def test_worker_dying_mid_batch_loses_nothing_and_stores_nothing_twice(
    dovecot, imap_account, customer
):
    """A poller that stored the first messages and died before flagging them and moving
    last_uid on: the next poll fetches them again and stores only the rest."""
    messages = [make_email(text=f"Message number {i}.") for i in range(5)]
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, messages)
    for raw in messages[:3]:
        ingest_email(raw, source="imap:dead-worker", mailbox=mailbox)
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.fetched, result.duplicates, result.stored) == (5, 3, 2)
    assert Interaction.objects.count() == 5
    assert InboundEmail.objects.count() == 5


@pytest.mark.django_db
def test_a_connection_lost_while_the_next_batch_is_fetched_keeps_what_was_stored(
    dovecot, imap_account, customer, monkeypatch
):
    """The next batch is fetched while this one is stored: when that fetch fails, the batch
    stored is still flagged and counted, nothing after it is, and the next poll takes the rest
    once."""
    from imapclient import IMAPClient

    fetch, bodies = IMAPClient.fetch, []

    def failing_second_body_fetch(self, messages, data, modifiers=None):
        if "BODY.PEEK[]" in data:
            bodies.append(messages)
            if len(bodies) == 2:
                raise OSError("connection reset by peer")
        return fetch(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", failing_second_body_fetch)
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email(text=f"Message {i}.") for i in range(5)])
    result = imap.poll_mailbox(mailbox.pk, batch_size=2)
    assert (result.stored, result.error) == (2, "OSError: connection reset by peer")
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2 and mailbox.last_error
    flagged = {uid for uid, f in folder_state(dovecot, imap_account).items() if imap.KEYWORD in f}
    assert flagged == {1, 2}

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    result = imap.poll_mailbox(mailbox.pk, batch_size=2)
    assert (result.fetched, result.stored, result.duplicates, result.error) == (3, 3, 0, "")
    assert Interaction.objects.count() == 5


@pytest.mark.django_db
def test_bad_input_is_recorded_and_the_poller_keeps_going(
    dovecot, imap_account, customer, settings
):
    to = ", ".join(f"person{i}@example.com" for i in range(10_000))
    ten_thousand = make_email(
        to="x@example.com", subject="Too many people", text="Too many copied."
    ).replace(b"To: x@example.com", b"To: " + to.encode())
    huge = make_email(
        subject="Huge", attachments=[("film.mp4", b"\x00" * (30 * 1024 * 1024), "video/mp4")]
    )
    bad = [
        b"From: ada@example.com\r\nSubject: cut\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/pl',
        huge,
        ten_thousand,
        b"From: ada@example.com\r\nSubject: latin\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"\r\nD\xe9\xe7u.\r\n",
        make_email(text=None, html='<p>Still broken.</p><img src="https://t.example/p.gif">'),
        bounce(failed="ada@example.com"),
        make_email(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office"),
        make_email(text="The last one, after all the bad ones."),
    ]
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, bad)
    result = imap.poll_mailbox(mailbox.pk, batch_size=3)
    assert result.error == "" and result.fetched == len(bad) and result.recorded == len(bad)
    kinds = Counter(InboundEmail.objects.values_list("kind", flat=True))
    # The cut MIME is kept as a customer email or refused; the rest as below.
    assert kinds[Kind.CUSTOMER] + kinds[Kind.REFUSED] + kinds[Kind.NO_TEXT] == 6
    assert (kinds[Kind.BOUNCE], kinds[Kind.AUTO_REPLY]) == (1, 1)
    assert InboundEmail.objects.get(subject="Too many people").kind == Kind.CUSTOMER
    assert Interaction.objects.filter(body="The last one, after all the bad ones.").exists()
    assert Interaction.objects.filter(body="Still broken.").exists()
    refused = InboundEmail.objects.get(subject="Huge")
    assert refused.reason.startswith("too large: ") and refused.size > 30 * 1024 * 1024
    assert Interaction.objects.filter(body="Déçu.").exists()
    assert mailbox.__class__.objects.get(pk=mailbox.pk).last_uid == len(bad)
    # Nothing lost: the refused message stays in the mailbox, flagged as seen by MemoryCRM.
    assert len(folder_state(dovecot, imap_account)) == len(bad)


@pytest.mark.django_db
def test_wrong_password_is_recorded_on_the_mailbox(dovecot, imap_account, monkeypatch):
    mailbox = make_mailbox(dovecot, imap_account)
    monkeypatch.setenv(mailbox.password_env, "wrong")
    result = imap.poll_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    assert result.error and mailbox.last_error == result.error
    assert "wrong" not in result.error


@pytest.mark.django_db
def test_missing_password_variable_is_recorded(dovecot, imap_account, monkeypatch):
    mailbox = make_mailbox(dovecot, imap_account)
    monkeypatch.delenv(mailbox.password_env)
    assert "is not set" in imap.poll_mailbox(mailbox.pk).error


@pytest.mark.django_db(transaction=True)
def test_two_pollers_at_once_store_each_message_exactly_once(dovecot, imap_account):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite locks the whole file)")
    messages = [
        make_email(sender=f"Customer {i % 7} <c{i % 7}@example.com>", text=f"Message {i}.")
        for i in range(60)
    ]
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, messages)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def poller() -> None:
        try:
            barrier.wait()
            results.append(imap.poll_mailbox(mailbox.pk, batch_size=10))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and [r.error for r in results] == ["", ""]
    assert Interaction.objects.count() == 60
    assert InboundEmail.objects.count() == 60
    assert sum(r.stored for r in results) == 60
    # Each sender became one customer, whichever poller saw them first.
    from customers.models import Customer

    assert Customer.objects.count() == 7
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid == 60


@pytest.mark.django_db
def test_schedule_is_idempotent_and_queues_one_poll_per_enabled_mailbox(dovecot, imap_account):
    tasks.ensure_email_schedule()
    tasks.ensure_email_schedule()
    schedule = Schedule.objects.get(name=tasks.POLL_NAME)
    assert schedule.func == "customers.channels.tasks.poll_mailboxes"
    make_mailbox(dovecot, imap_account, name="a")
    make_mailbox(dovecot, imap_account, name="b", enabled=False)
    assert tasks.poll_mailboxes() == 1
    assert OrmQ.objects.count() == 1


@pytest.mark.django_db
def test_poll_task_returns_what_it_did(dovecot, imap_account, customer):
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email()])
    assert tasks.poll_mailbox(mailbox.pk)["stored"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"security": "none", "host": "imap.example.com"}, "security"),
        ({"password_env": "hunter2 is my password"}, "password_env"),
        ({"after_ingest": "move", "processed_folder": "INBOX"}, "processed_folder"),
    ],
)
def test_mailbox_configuration_is_checked(fields, field):
    values = {
        "name": "support",
        "host": "127.0.0.1",
        "port": 993,
        "security": "ssl",
        "username": "support",
        "password_env": "SUPPORT_PASSWORD",
    } | fields
    with pytest.raises(ValidationError) as error:
        Mailbox(**values).full_clean()
    assert field in error.value.message_dict


@pytest.mark.django_db
def test_admin_configures_a_mailbox_and_never_shows_a_password(admin_user, client, monkeypatch):
    monkeypatch.setenv("SUPPORT_PASSWORD", "s3cret-value")
    client.force_login(admin_user)
    response = client.post(
        "/admin/customers/mailbox/add/",
        {
            "name": "support",
            "enabled": "on",
            "host": "imap.example.com",
            "port": "993",
            "security": "ssl",
            "username": "support@example.com",
            "password_env": "SUPPORT_PASSWORD",
            "folder": "INBOX",
            "after_ingest": "flag",
            "processed_folder": "MemoryCRM",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mailbox = Mailbox.objects.get()
    page = client.get(f"/admin/customers/mailbox/{mailbox.pk}/change/").content.decode()
    assert "SUPPORT_PASSWORD" in page and "s3cret-value" not in page
    assert client.get("/admin/customers/inboundemail/").status_code == 200


@pytest.mark.django_db
def test_batches_follow_the_setting(dovecot, imap_account, customer, settings):
    settings.EMAIL_IN_BATCH = 2
    mailbox = make_mailbox(dovecot, imap_account)
    deliver(dovecot, imap_account, [make_email() for _ in range(5)])
    assert imap.poll_mailbox(mailbox.pk).stored == 5
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid == 5


@pytest.mark.django_db
def test_a_server_that_never_answers_times_out(imap_account, settings):
    """A listener that accepts and says nothing: the poll gives up after EMAIL_IN_TIMEOUT."""
    import socket
    import time

    settings.EMAIL_IN_TIMEOUT = 0.5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mailbox = Mailbox.objects.create(
            name="silent",
            host="127.0.0.1",
            port=silent.getsockname()[1],
            security=Mailbox.Security.NONE,
            username="x",
            password_env=imap_account[2],
        )
        start = time.monotonic()
        result = imap.poll_mailbox(mailbox.pk)
    assert time.monotonic() - start < 5
    assert "timed out" in result.error.lower()
    assert Mailbox.objects.get(pk=mailbox.pk).last_error == result.error


@pytest.mark.django_db
def test_schedule_follows_the_poll_interval(settings):
    settings.EMAIL_IN_POLL_MINUTES = 5
    tasks.ensure_email_schedule()
    assert Schedule.objects.get(name=tasks.POLL_NAME).minutes == 5


@pytest.mark.django_db
def test_admin_action_polls_the_selected_mailboxes_now(dovecot, imap_account, admin_user, client):
    from django_q.signing import SignedPackage

    mailbox = make_mailbox(dovecot, imap_account)
    client.force_login(admin_user)
    response = client.post(
        "/admin/customers/mailbox/",
        {"action": "poll_now", "_selected_action": [mailbox.pk]},
        follow=True,
    )
    assert "Queued 1 mailbox poll(s)." in response.content.decode()
    [task] = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert (task["func"], task["args"]) == ("customers.channels.tasks.poll_mailbox", (mailbox.pk,))


@pytest.mark.django_db
@pytest.mark.parametrize("security", [Mailbox.Security.SSL, Mailbox.Security.STARTTLS])
def test_tls_mailboxes_verify_the_server_certificate(
    dovecot, imap_account, customer, settings, security
):
    settings.EMAIL_IN_CA_FILE = str(dovecot.ca_file)
    mailbox = make_mailbox(dovecot, imap_account, name=f"tls-{security}")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        security=security,
        port=dovecot.tls_port if security == Mailbox.Security.SSL else dovecot.port,
    )
    deliver(dovecot, imap_account, [make_email()])
    result = imap.poll_mailbox(mailbox.pk)
    assert (result.error, result.stored) == ("", 1)


@pytest.mark.django_db
@pytest.mark.parametrize("security", [Mailbox.Security.SSL, Mailbox.Security.STARTTLS])
def test_an_untrusted_certificate_is_refused(dovecot, imap_account, customer, settings, security):
    settings.EMAIL_IN_CA_FILE = ""  # the system's CAs do not know the test CA
    mailbox = make_mailbox(dovecot, imap_account, name=f"untrusted-{security}")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        security=security,
        port=dovecot.tls_port if security == Mailbox.Security.SSL else dovecot.port,
    )
    deliver(dovecot, imap_account, [make_email()])
    result = imap.poll_mailbox(mailbox.pk)
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert not Interaction.objects.exists()

"""The webhook action: signed JSON to a checked public address (interventions/webhooks.py), no
redirects, retries through the queue, and a last_error that tells managers nothing more."""

import hashlib
import hmac
import json
import socket
import ssl
import time
from datetime import timedelta

import pytest
import time_machine
import trustme
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import OrmQ

from interventions import conditions as cond
from interventions import engine, webhooks
from interventions.actions import WEBHOOK_FAILED
from interventions.models import EffectLog, Intervention, Rule
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
Status = Intervention.Status
FAILED = f"ActionError: {WEBHOOK_FAILED}"


def make_rule(url: str, *, validate: bool = True, **config) -> Rule:
    rule = Rule(
        name=f"Hook {url}",
        slug=f"hook-{Rule.objects.count()}",
        event=cond.INTERACTION_LOGGED,
        conditions=[{"field": "channel", "op": "eq", "value": "chat"}],
        action="webhook",
        action_config={"url": url, **config},
        active=True,
    )
    if validate:
        rule.full_clean()
    rule.save()
    return rule


@pytest.fixture
def chat(owner):
    customer = CustomerFactory(name="Ada", email="ada@example.com", owner=owner)
    return InteractionFactory(customer=customer, channel="chat", subject="Hello")


def fire_and_run(interaction) -> Intervention:
    [intervention] = engine.fire_event(event=cond.INTERACTION_LOGGED, subject=interaction)
    engine.execute(intervention.pk)
    intervention.refresh_from_db()
    return intervention


def run_again(intervention: Intervention) -> Intervention:
    """Let the back-off pass, then let the claimer's sweep queue it and a worker run it."""
    with time_machine.travel(intervention.scheduled_for + timedelta(seconds=1), tick=False):
        OrmQ.objects.all().delete()
        assert engine.dispatch_due()["queued"] == 1
        [queued] = OrmQ.objects.all()
        assert queued.task["func"] == "interventions.tasks.execute_intervention"
        engine.execute(*queued.task["args"])
    intervention.refresh_from_db()
    return intervention


@pytest.fixture
def dns(monkeypatch):
    """Make a host name resolve to the given addresses (the resolver is the edge we fake)."""
    real = socket.getaddrinfo
    names: dict[str, list[str]] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


# --- Delivery --------------------------------------------------------------------------------


def test_webhook_posts_signed_json(chat, webhook_receiver, settings):
    settings.INTERVENTIONS_WEBHOOK_SECRET = "s3cret"
    receiver = webhook_receiver()
    make_rule(receiver.url)
    intervention = fire_and_run(chat)
    assert intervention.status == Status.DONE
    [request] = receiver.requests
    body = request["body"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert request["headers"]["X-MemoryCRM-Signature"] == expected
    assert request["headers"]["Idempotency-Key"] == f"memorycrm-intervention-{intervention.pk}"
    payload = json.loads(body)
    assert payload["intervention"] == intervention.pk
    assert payload["customer"]["email"] == "ada@example.com"
    assert payload["why_fired"]["event"] == "interaction.logged"


def test_webhook_secret_of_the_rule_wins(chat, webhook_receiver, settings):
    settings.INTERVENTIONS_WEBHOOK_SECRET = "global"
    receiver = webhook_receiver()
    make_rule(receiver.url, secret="per-rule")
    fire_and_run(chat)
    body = receiver.requests[0]["body"]
    assert receiver.requests[0]["headers"]["X-MemoryCRM-Signature"] == (
        "sha256=" + hmac.new(b"per-rule", body, hashlib.sha256).hexdigest()
    )


def test_webhook_done_is_not_called_again(chat, webhook_receiver):
    receiver = webhook_receiver()
    make_rule(receiver.url)
    intervention = fire_and_run(chat)
    Intervention.objects.filter(pk=intervention.pk).update(
        status=Status.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    assert engine.execute(intervention.pk) == Status.DONE
    assert len(receiver.requests) == 1


# --- Server-side request forgery --------------------------------------------------------------


def test_a_local_receiver_is_not_reached_unless_allow_listed(chat, webhook_receiver):
    receiver = webhook_receiver(allow=False)
    make_rule(receiver.url, validate=False)  # as saved before the check, or by a data migration
    intervention = fire_and_run(chat)
    assert intervention.status == Status.FAILED
    assert intervention.last_error == FAILED
    assert receiver.requests == []


def test_a_name_resolving_to_a_local_address_is_refused_at_send_time(chat, webhook_receiver, dns):
    receiver = webhook_receiver(allow=False)
    port = receiver.server.server_address[1]
    dns["hooks.example.com"] = ["93.184.216.34", "127.0.0.1"]  # one bad answer is enough
    make_rule(f"http://hooks.example.com:{port}/hook")
    intervention = fire_and_run(chat)
    assert intervention.status == Status.FAILED
    assert intervention.last_error == FAILED
    assert receiver.requests == []


def test_an_allow_listed_receiver_gets_the_call_on_the_checked_address(chat, webhook_receiver, dns):
    receiver = webhook_receiver()  # 127.0.0.1/32 allowed
    port = receiver.server.server_address[1]
    dns["hooks.example.com"] = ["127.0.0.1"]
    make_rule(f"http://hooks.example.com:{port}/hook?x=1")
    intervention = fire_and_run(chat)
    assert intervention.status == Status.DONE
    [request] = receiver.requests
    # Connected to the address that was checked; the Host header still names the URL's host.
    assert request["headers"]["Host"] == f"hooks.example.com:{port}"


def test_https_checks_the_urls_host_on_the_pinned_address(
    chat, webhook_receiver, dns, monkeypatch, tmp_path
):
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.com").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trust the test CA only
    receiver = webhook_receiver(tls=server)
    dns["hooks.example.com"] = dns["other.example.com"] = ["127.0.0.1"]
    make_rule(f"https://hooks.example.com:{receiver.port}/hook")
    intervention = fire_and_run(chat)
    assert intervention.status == Status.DONE
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"hooks.example.com:{receiver.port}"

    # Same address, another name: the certificate does not match it, so nothing is sent.
    Rule.objects.update(active=False)
    make_rule(f"https://other.example.com:{receiver.port}/hook")
    other = fire_and_run(InteractionFactory(customer=chat.customer, channel="chat"))
    assert other.status == Status.SCHEDULED  # a TLS failure may pass: retried later
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(chat, webhook_receiver):
    target = webhook_receiver()
    redirector = webhook_receiver([302], location=target.url)
    make_rule(redirector.url)
    intervention = fire_and_run(chat)
    assert intervention.status == Status.FAILED
    assert intervention.last_error == FAILED
    assert len(redirector.requests) == 1
    assert target.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://localhost:5432/",
        "http://db.localhost/",
        "https://LOCALHOST/",
    ],
)
def test_local_private_and_odd_addresses_are_refused(url):
    with pytest.raises(ValidationError) as error:
        make_rule(url)
    assert "public addresses only" in str(error.value.message_dict["action_config"])
    # ... and again at send time, whatever was saved.
    if "localhost" not in url.lower():
        with pytest.raises(webhooks.Refused):
            webhooks.post(url, body=b"{}", headers={}, timeout=1)


def test_a_malformed_host_name_is_refused_at_send_time():
    with pytest.raises(webhooks.Refused):
        webhooks.post("http://a..b/", body=b"{}", headers={}, timeout=1)


def test_public_addresses_and_names_are_accepted():
    make_rule("https://hooks.example.com/crm")
    make_rule("http://93.184.216.34:8080/hook")
    make_rule("https://[2606:2800:220:1:248:1893:25c8:1946]/")


def test_the_allow_list_admits_an_on_premise_network(settings):
    settings.INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS = ["10.1.2.0/24", "fd00::/8"]
    make_rule("http://10.1.2.3/hook")
    make_rule("http://[fd00::7]/hook")
    with pytest.raises(ValidationError):
        make_rule("http://10.1.3.3/hook")


# --- Failures: retried through the queue, reported generically -------------------------------


def test_a_failure_is_retried_through_the_queue_with_back_off_then_succeeds(
    chat, webhook_receiver, settings
):
    settings.INTERVENTIONS_WEBHOOK_BACKOFF = 60
    receiver = webhook_receiver([503, 500])
    make_rule(receiver.url)
    started = time.monotonic()
    intervention = fire_and_run(chat)
    assert time.monotonic() - started < 5  # no sleeping through the back-off in the worker
    assert intervention.status == Status.SCHEDULED
    assert intervention.last_error == WEBHOOK_FAILED
    first = intervention.scheduled_for - timezone.now()
    assert timedelta(seconds=55) < first <= timedelta(seconds=60)

    before = intervention.scheduled_for
    intervention = run_again(intervention)
    assert intervention.status == Status.SCHEDULED
    assert timedelta(seconds=115) < intervention.scheduled_for - before <= timedelta(seconds=121)

    intervention = run_again(intervention)
    assert intervention.status == Status.DONE
    assert len(receiver.requests) == 3
    assert intervention.result["webhook"]["attempts"] == 3


def test_webhook_gives_up_and_fails(chat, webhook_receiver, settings):
    settings.INTERVENTIONS_WEBHOOK_RETRIES = 2
    receiver = webhook_receiver([500, 500, 500])
    make_rule(receiver.url)
    intervention = run_again(run_again(fire_and_run(chat)))
    assert intervention.status == Status.FAILED
    assert intervention.last_error == FAILED
    assert len(receiver.requests) == 3
    log = EffectLog.objects.get()
    assert log.status == EffectLog.Status.FAILED
    assert "500" not in json.dumps(log.detail)


def test_webhook_client_error_is_not_retried(chat, webhook_receiver):
    receiver = webhook_receiver([400])
    make_rule(receiver.url)
    assert fire_and_run(chat).status == Status.FAILED
    assert len(receiver.requests) == 1


def test_last_error_does_not_tell_a_closed_port_from_an_http_401(chat, webhook_receiver, settings):
    settings.INTERVENTIONS_WEBHOOK_RETRIES = 0
    unauthorised = webhook_receiver([401])
    closed = webhook_receiver()
    closed_url = closed.url
    closed.close()
    make_rule(unauthorised.url)
    first = fire_and_run(chat)
    Rule.objects.update(active=False)  # the next interaction fires only the second rule
    make_rule(closed_url)
    second = fire_and_run(InteractionFactory(customer=chat.customer, channel="chat"))
    assert (first.status, second.status) == (Status.FAILED, Status.FAILED)
    assert first.last_error == second.last_error == FAILED


def test_the_api_refuses_a_local_webhook(admin_user, api_client):
    api_client.force_authenticate(admin_user)
    rule = {
        "name": "Metadata",
        "slug": "metadata",
        "event": "interaction.scored",
        "conditions": [],
        "action": "webhook",
        "action_config": {"url": "http://169.254.169.254/latest/meta-data/"},
    }
    response = api_client.post("/api/v1/rules/", rule, format="json")
    assert response.status_code == 400
    assert "public addresses only" in str(response.json()["action_config"])
    assert not Rule.objects.filter(slug="metadata").exists()

"""The project's own django-q2 tasks."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from memorycrm.lib import queue
from memorycrm.lib.schedules import ensure_schedule

RELAY_NAME = "memorycrm-relay-outbox"


def relay_outbox() -> int:
    """Every minute: queue what a crash left in the outbox (memorycrm/lib/queue.py)."""
    return queue.relay_all()


def ensure_outbox_schedule() -> None:
    """Idempotent: the sweep of the outbox, every minute (a no-op on the ORM broker)."""
    ensure_schedule(RELAY_NAME, "memorycrm.tasks.relay_outbox", minutes=1)


def send_password_reset(user_id: int, domain: str, use_https: bool) -> bool:
    """Email the user a one-time password reset link (queued by the reset form,
    memorycrm/forms.py). False when there is no one to send it to any more."""
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password() or not user.email:
        return False
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": domain,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http",
    }
    PasswordResetForm().send_mail(
        "registration/password_reset_subject.txt",
        "registration/password_reset_email.html",
        context,
        None,
        user.email,
    )
    return True

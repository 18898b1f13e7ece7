from django.conf import settings
from django.db import models
from django.utils import timezone

from customers.validators import validate_timezone


class OutboxTask(models.Model):
    """A task to queue, written in the transaction of the change that calls for it, when the
    task queue lives outside the database (Redis). The relay (memorycrm/lib/queue.py) hands it
    to the broker after the commit and leases it; the worker deletes it when the task body has
    finished. A crash anywhere (before the relay, or a worker killed with the task popped from
    Redis) leaves the row, and the sweep queues it again once its lease has run out: no
    follow-up is lost (one may run twice: every task body is idempotent)."""

    func = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    options = models.JSONField(default=dict)  # django-q2's q_options: group, task_name, timeout
    created_at = models.DateTimeField(default=timezone.now)
    # Null: not relayed yet. Otherwise the sweep leaves the row alone until then (the task is
    # in Redis or running); a row still here afterwards was lost with a worker.
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # task bodies started

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.func} (outbox #{self.pk})"


class UserSettings(models.Model):
    """What one user chose for themselves. ``time_zone`` empty: their browser's zone (the `tz`
    cookie static/js/timezone.js sets); else it wins over the browser's (memorycrm/lib/
    timezones.py), on every device they sign in on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_settings"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="An IANA name such as Europe/Paris; empty: the browser's zone.",
    )

    class Meta:
        verbose_name = "user settings"
        verbose_name_plural = "user settings"

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'browser zone'}"

from django.db import models
from django.utils import timezone


class OutboxTask(models.Model):
    """A task to queue, written in the transaction of the change that calls for it, when the
    task queue lives outside the database (Redis). The relay (memorycrm/lib/queue.py) hands it
    to the broker after the commit and deletes it; a crash in between leaves the row for the
    next relay, so no follow-up is lost (and one may be queued twice: every task is idempotent)."""

    func = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    options = models.JSONField(default=dict)  # django-q2's q_options: group, task_name, timeout
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.func} (outbox #{self.pk})"

"""The file email backend of the worker-kill test's first cluster: the first message is written
(it has left, as far as anyone can tell) and then the worker hangs before it can record the send,
so the test can SIGKILL it in the worst place for exactly-once."""

import os
import time

from django.core.mail.backends.filebased import EmailBackend as FileBackend


class EmailBackend(FileBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        marker = os.environ.get("FAULT_HANG_MARKER")
        if marker:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return sent  # only the first message hangs
            time.sleep(3600)
        return sent

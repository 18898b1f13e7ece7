"""Two writers racing on real PostgreSQL transactions, for the email-in tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections, transaction


def second_waits_for_first(first: Callable[[], object], second: Callable[[], object]) -> dict:
    """Run ``first`` in a transaction that stays open, then ``second`` in another thread; check
    that ``second`` waits for the first transaction, then let it commit. Returns
    {"first": ..., "second": ...}, what each returned."""
    stored, release, outcome = threading.Event(), threading.Event(), {}

    def run_first() -> None:
        try:
            with transaction.atomic():
                outcome["first"] = first()
                stored.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    def run_second() -> None:
        try:
            outcome["second"] = second()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    threads[0].start()
    assert stored.wait(timeout=30)
    threads[1].start()
    threads[1].join(timeout=1)
    assert threads[1].is_alive()  # waiting for the first transaction's outcome
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    return outcome

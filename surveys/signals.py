"""Events the surveys app announces; apps to the right (interventions) listen. Receivers get
ids, never model instances. Sent once the answer is safe to announce: after commit, or inside
the transaction with the ORM task queue (memorycrm.lib.queue), so receivers only queue tasks."""

import django.dispatch

# kwargs: response_id: int
survey_answered = django.dispatch.Signal()

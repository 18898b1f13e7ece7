"""Events the surveys app announces, sent after the transaction commits; apps to the right
(interventions) listen. Receivers get ids, never model instances."""

import django.dispatch

# kwargs: response_id: int
survey_answered = django.dispatch.Signal()

"""Events the customers app announces. Sent after the transaction commits; apps to the right
(moments, surveys, interventions) listen. Receivers get ids, never model instances."""

import django.dispatch

# kwargs: interaction_ids: list[int]
interactions_logged = django.dispatch.Signal()

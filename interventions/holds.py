"""While an alert on a customer is open, their survey invitations are held (surveys'
SurveyHold, one per alerting intervention), and sent once it is resolved, if still due."""

from __future__ import annotations

from interventions.models import Intervention
from surveys.services.holds import hold_surveys, release_surveys


def hold_key(intervention_id: int) -> str:
    return f"interventions.alert:{intervention_id}"


def hold_surveys_for_alert(intervention: Intervention) -> None:
    hold_surveys(
        customer_id=intervention.customer_id,
        key=hold_key(intervention.pk),
        reason=f"Open alert: {intervention.rule.name}",
    )


def release_surveys_for_alert(intervention_id: int) -> list[int]:
    return release_surveys(key=hold_key(intervention_id))

"""HTML forms of the interventions app: validation only."""

from __future__ import annotations

from django import forms

from interventions.models import ALERT_SEVERITIES
from interventions.selectors import INBOX_STATES


class AlertFilterForm(forms.Form):
    """The inbox's filters (GET). Anything invalid falls back to the default."""

    state = forms.ChoiceField(choices=list(INBOX_STATES.items()), required=False)
    severity = forms.ChoiceField(
        choices=[("", "Any severity"), *[(name, name.title()) for name in ALERT_SEVERITIES]],
        required=False,
    )
    customer = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "state": data.get("state") or "active",
            "severity": data.get("severity") or "",
            "customer_id": data.get("customer"),
        }

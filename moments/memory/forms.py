"""Forms for memory moments: validation only."""

from __future__ import annotations

from django import forms

from moments.models import MomentTag, Polarity


def _active_tags():
    return MomentTag.objects.active().select_related("category")


class PromoteForm(forms.Form):
    tag = forms.ModelChoiceField(queryset=_active_tags(), required=False, empty_label="(no tag)")
    note = forms.CharField(max_length=200, required=False)


class TagForm(forms.Form):
    tag = forms.ModelChoiceField(queryset=_active_tags(), empty_label="Add a tag…")


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": "Why is this not a moment?"}),
        error_messages={"required": "Say why the moment is dismissed."},
    )


class HeatmapFilterForm(forms.Form):
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    polarity = forms.ChoiceField(choices=[("", "Any polarity"), *Polarity.choices], required=False)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

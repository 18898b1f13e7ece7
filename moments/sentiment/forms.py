from django import forms

from customers.models import Interaction


class SentimentCorrectionForm(forms.Form):
    label = forms.ChoiceField(choices=Interaction.Sentiment.choices)

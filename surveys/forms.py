from django import forms

from customers.models import Interaction, JourneyStage
from surveys.models import Survey
from surveys.selectors_report import ReportFilters


class AnswerForm(forms.Form):
    """The public answer form. The rating scale comes from the survey (CSAT 1–5, NPS 0–10)."""

    rating = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose a rating."},
    )
    answer = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )

    moments = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Which of these stood out?",
    )

    def __init__(self, *args, survey: Survey, moment_choices: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rating"].choices = [(value, str(value)) for value in survey.rating_range]
        self.fields["rating"].label = survey.rating_question
        self.fields["answer"].label = survey.open_question
        if moment_choices:
            self.fields["moments"].choices = [(c.moment.pk, c.label) for c in moment_choices]
        else:
            del self.fields["moments"]


class BulkInviteForm(forms.Form):
    """Which customers a manager invites: a search, and optionally those with an interaction
    in a journey stage since a date."""

    survey = forms.ModelChoiceField(queryset=Survey.objects.filter(active=True), empty_label=None)
    q = forms.CharField(required=False, max_length=100, label="Name, email or company contains")
    stage = forms.ModelChoiceField(
        queryset=JourneyStage.objects.all(), required=False, empty_label="(any stage)"
    )
    since = forms.DateField(
        required=False,
        label="With an interaction since",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    channel = forms.ChoiceField(
        required=False, choices=[("", "(any channel)"), *Interaction.Channel.choices]
    )


class ReportFilterForm(forms.Form):
    survey = forms.ModelChoiceField(
        queryset=Survey.objects.all(), required=False, empty_label="(all surveys)"
    )
    stage = forms.ModelChoiceField(
        queryset=JourneyStage.objects.all(), required=False, empty_label="(any stage)"
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    rating_min = forms.IntegerField(required=False, min_value=0, max_value=10, label="Rating ≥")
    rating_max = forms.IntegerField(required=False, min_value=0, max_value=10, label="Rating ≤")
    sentiment = forms.ChoiceField(
        required=False, choices=[("", "(any sentiment)"), *Interaction.Sentiment.choices]
    )
    q = forms.CharField(required=False, max_length=100, label="Answer contains")
    # Bounded: a 30-digit page number overflowed the SQL OFFSET (a 500).
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def filters(self) -> ReportFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return ReportFilters(
            survey=data.get("survey"),
            stage=data.get("stage"),
            since=data.get("since"),
            until=data.get("until"),
            rating_min=data.get("rating_min"),
            rating_max=data.get("rating_max"),
            sentiment=data.get("sentiment") or "",
            q=data.get("q") or "",
        )

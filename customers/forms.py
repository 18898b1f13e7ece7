from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import Customer, Interaction, JourneyStage


class CustomerSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    cursor = forms.CharField(required=False, max_length=500)


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "name",
            "email",
            "company",
            "phone",
            "external_ref",
            "owner",
            "timezone",
            "notes",
            "survey_opt_out",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=["Agent", "Manager", "Admin"])
            .distinct()
            .order_by("username")
        )


class InteractionForm(forms.ModelForm):
    occurred_at = forms.DateTimeField(
        label="Occurred at",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Interaction
        fields = ["channel", "direction", "occurred_at", "stage", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = JourneyStage.objects.all()
        self.fields["stage"].empty_label = "(no stage)"

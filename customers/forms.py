from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from customers.access import sees_every_customer
from customers.imports import ImportRejected, decode_csv
from customers.models import Customer, ImportJob, Interaction, JourneyStage
from customers.services import CUSTOMER_FIELDS, UNDISCLOSED_DUPLICATE


class CustomerSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    cursor = forms.CharField(required=False, max_length=500)


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = list(CUSTOMER_FIELDS)
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=["Agent", "Manager", "Admin"])
            .distinct()
            .order_by("username")
        )

    def _post_clean(self) -> None:
        super()._post_clean()
        # Owned mode: a clash with a customer the user may not see is worded as the service
        # words it, without confirming that customer exists.
        if self.user is None or sees_every_customer(self.user):
            return
        for field, text in UNDISCLOSED_DUPLICATE.items():
            if field in self._errors:
                self._errors[field] = self.error_class(
                    [text if "already exists" in m else m for m in self._errors[field]]
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


class ImportUploadForm(forms.Form):
    """A CSV file to import; `cleaned_data["text"]` holds its decoded content."""

    kind = forms.ChoiceField(choices=ImportJob.Kind.choices, label="What the file holds")
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {filesizeformat(limit)}: split it into smaller files."
            )
        try:
            self.cleaned_data["text"] = decode_csv(upload.read())
        except ImportRejected as error:
            raise forms.ValidationError(str(error)) from None
        return upload

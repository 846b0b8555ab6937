"""Forms of the back-office's cross-app staff actions."""

from django import forms

from core.admin import ReasonForm


class KilometersForm(ReasonForm):
    GOODWILL = "goodwill"
    CORRECTION_CREDIT = "credit"
    CORRECTION_DEBIT = "debit"

    purpose = forms.ChoiceField(
        choices=[
            (GOODWILL, "Goodwill grant (adds kilometers)"),
            (CORRECTION_CREDIT, "Correction: add kilometers"),
            (CORRECTION_DEBIT, "Correction: take kilometers away"),
        ],
        widget=forms.RadioSelect,
    )
    kilometers = forms.IntegerField(min_value=1, max_value=1_000_000, help_text="Whole kilometers, more than 0.")
    field_order = ["purpose", "kilometers", "reason"]

    def signed_kilometers(self) -> int:
        sign = -1 if self.cleaned_data["purpose"] == self.CORRECTION_DEBIT else 1
        return sign * self.cleaned_data["kilometers"]

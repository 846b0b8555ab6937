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


class CreditLimitForm(ReasonForm):
    credit_limit_cents = forms.IntegerField(
        min_value=0,
        label="Credit limit (cents)",
        help_text="How far below zero the cents balance may go for spending at venues; 0 = no credit.",
    )
    field_order = ["credit_limit_cents", "reason"]

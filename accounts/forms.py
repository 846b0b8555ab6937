"""Forms of the back-office's staff actions on customers and partners."""

from django import forms

from core.admin import ReasonForm


class ApiKeyForm(ReasonForm):
    label = forms.CharField(max_length=200, required=False, help_text="What the key is for, e.g. 'production backend'.")
    field_order = ["label", "reason"]

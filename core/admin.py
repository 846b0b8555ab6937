"""Shared back-office plumbing (see the package docstring)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from core.errors import (
    ApiKeyAlreadyRevoked,
    ChargepayError,
    ChargeStateConflict,
    InsufficientBalance,
    InvalidParameter,
    ObjectNotFound,
    StaffLimitExceeded,
    TransactionAlreadyReversed,
    TransactionNotReversible,
    WorkInProgress,
)
from core.masking import LOGGED, last_four

# Keys of gateway metadata that identify the card: shown with their last 4 characters only.
SENSITIVE_METADATA_KEYS = {"token", "expirationdate", "accountnumber", "cardnumber", "cvv", "cvv2"}


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Nobody (superusers included) adds, changes or deletes these rows through the admin: they change only
    through services, by staff actions that are audited."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def id_search(term: str, *fields: str) -> Q:
    """The search rule shared by the back-office lists: a search term that is a number also finds the row whose
    id (or any of `fields`, e.g. customer_id) is that number; any other term matches nothing here."""
    term = term.strip()
    if not (term.isascii() and term.isdigit() and len(term) <= 18):  # 18 digits always fit a bigint
        return Q(pk__in=[])
    match = Q(pk=int(term))
    for field in fields:
        match |= Q(**{field: int(term)})
    return match


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, never added, changed or deleted here (`fields` are all read-only)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Required. Kept in the audit log with your name.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < 5:
            raise forms.ValidationError("Say why, in a few words (at least 5 characters).")
        return reason


def staff_error_message(error: ChargepayError) -> str:
    """A refused staff action, said plainly (the code is kept for support tickets)."""
    if isinstance(error, InsufficientBalance):
        text = (
            f"the wallet holds {error.available} but {error.requested} would be taken back, so it would go negative. "
            "The customer has spent it since; nothing was changed."
        )
    elif isinstance(error, TransactionAlreadyReversed):
        text = f"transaction #{error.transaction_pk} is already reversed (it reads CANCELLED); nothing was changed."
    elif isinstance(error, TransactionNotReversible):
        text = f"#{error.transaction_pk}: {error.why}."
    elif isinstance(error, ChargeStateConflict):
        text = f"#{error.charge_pk}: {error.why}."
    elif isinstance(error, StaffLimitExceeded):
        text = f"{error.amount} {error.unit} is above your limit of {error.limit} {error.unit}; ask someone in finance."
    elif isinstance(error, WorkInProgress):
        text = f"#{error.object_pk}: {error.what}; try again in a minute."
    elif isinstance(error, InvalidParameter):
        text = f"invalid {error.name}: {error.value!r}."
    elif isinstance(error, ApiKeyAlreadyRevoked):
        text = f"API key {error.access_key_id} is already revoked."
    elif isinstance(error, ObjectNotFound):
        text = f"{error.kind} {error.id} does not exist."
    else:
        text = ", ".join(str(value) for value in error.values) or "refused."
    return f"Refused ({error.code}): {text}"


def masked_metadata(data):
    """Gateway metadata as stored, with card-identifying values cut to their last 4 characters."""
    if isinstance(data, dict):
        return {
            key: (last_four(value, mark=LOGGED) if value and key.lower() in SENSITIVE_METADATA_KEYS else masked_metadata(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [masked_metadata(item) for item in data]
    return data


def render_staff_page(request, model_admin: admin.ModelAdmin, template: str, context: dict, *, obj=None, status=200):
    """Render a back-office page inside the admin's frame (site header, breadcrumbs, messages)."""
    opts = model_admin.model._meta
    page = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "app_label": opts.app_label,
        "original": obj,
        "has_view_permission": model_admin.has_view_permission(request, obj),
        **context,
    }
    return TemplateResponse(request, template, page, status=status)


def staff_action_page(
    request,
    model_admin: admin.ModelAdmin,
    *,
    obj,
    form: forms.Form,
    perform: Callable[[dict], Any],
    done: Callable[[Any], tuple[str, str]],
    template: str,
    context: dict,
    describe_error: Callable[[ChargepayError], str] = staff_error_message,
):
    """The shape every staff action shares. GET: a confirmation page (`template`) with `form` (a required reason
    at least). A valid POST calls `perform(cleaned_data)`, which makes one service call; a refusal (ChargepayError)
    is said plainly on the same page and changes nothing; success shows `done(result)`'s message and goes to its
    URL. `perform` may instead return an HttpResponse, which is the answer."""
    if request.method == "POST" and form.is_valid():
        try:
            result = perform(form.cleaned_data)
        except ChargepayError as error:
            messages.error(request, describe_error(error))
        else:
            if isinstance(result, HttpResponse):
                return result
            message, url = done(result)
            model_admin.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(url)
    return render_staff_page(request, model_admin, template, {"form": form, **context}, obj=obj)


def admin_url(link: tuple[str, int] | None) -> str:
    """The admin change page of `("app_label.model", pk)`, or "" when there is none."""
    if link is None:
        return ""
    app_label, model = link[0].split(".")
    try:
        return reverse(f"admin:{app_label}_{model}_change", args=[link[1]])
    except NoReverseMatch:
        return ""

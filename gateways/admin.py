"""Card charges and card credits (refunds to the card) in the back-office: list and filter by status (review and
debt included), each with its gateway attempts and their raw metadata (card token masked), and the staff actions void/refund and
retry capture, each on a confirmation page with a required reason, audited, carried out by a worker.
Settlement batches are read-only; finance uploads the gateway's batch CSV for reconciliation."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from rangefilter.filters import DateRangeFilterBuilder

from accounts.exports import CsvExportMixin, cents_as_dollars
from core import money
from core.admin import ReadOnlyInline, ReadOnlyModelAdmin, ReasonForm, id_search, masked_metadata, staff_action_page

from . import services
from .models import (
    REFUNDABLE_STATUSES,
    CardCharge,
    CardCredit,
    ChargeStatus,
    CreditStatus,
    GatewayAttempt,
    GatewayBatchFile,
    SettlementBatch,
)


class GatewayAttemptInline(ReadOnlyInline):
    model = GatewayAttempt
    fk_name = "charge"
    fields = (
        "created_at",
        "request_type",
        "transaction_id",
        "outcome",
        "response_code",
        "response_description",
        "error",
        "raw_metadata",
    )

    @admin.display(description="raw metadata (card masked)")
    def raw_metadata(self, attempt: GatewayAttempt):
        return _metadata_table(attempt.response_message)


def _metadata_table(data: dict):
    masked = masked_metadata(data or {})
    shown = {key: value for key, value in masked.items() if value not in (None, "")}
    if not shown:
        return "–"
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", shown.items())
    empty = len(masked) - len(shown)
    note = format_html("<p>{} empty fields not shown</p>", empty) if empty else ""
    return format_html('<table class="gateway-metadata">{}</table>{}', rows, note)


class DebtFilter(admin.SimpleListFilter):
    title = "debt"
    parameter_name = "debt"

    def lookups(self, request, model_admin):
        return [("yes", "carries a debt"), ("no", "no debt")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(debt_cents__gt=0)
        if self.value() == "no":
            return queryset.filter(debt_cents=0)
        return queryset


class StaffAttentionFilter(admin.SimpleListFilter):
    """What staff must look at beyond the REVIEW status: a pending authorization parked on a 30036 answer (the
    sweeper no longer re-sends it) and captures recorded on a 30036 answer that only the batch confirms."""

    title = "needs staff"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("parked", "pending, parked for review"), ("unconfirmed", "capture unconfirmed (30036)")]

    def queryset(self, request, queryset):
        if self.value() == "parked":
            return queryset.filter(status=ChargeStatus.PENDING).exclude(review_reason="")
        if self.value() == "unconfirmed":
            return queryset.filter(capture_unconfirmed=True)
        return queryset


@admin.register(CardCharge)
class CardChargeAdmin(CsvExportMixin, ReadOnlyModelAdmin):
    csv_columns = (
        ("id", "pk"),
        ("created_at", "created_at"),
        ("status", "status"),
        ("requested_usd", lambda c: cents_as_dollars(c.amount_requested)),
        ("authorized_usd", lambda c: cents_as_dollars(c.amount_authorized)),
        ("debt_usd", lambda c: cents_as_dollars(c.debt_cents)),
        ("customer_id", "customer_id"),
        ("partner", "partner__code"),
        ("card", lambda c: c.payment_method.masked_token if c.payment_method_id else ""),
        ("gateway_trans_id", "gateway_trans_id"),
        ("batch", "batch_id"),
        ("review_reason", "review_reason"),
    )
    list_display = ("id", "created_at", "requested", "authorized", "status", "debt", "customer", "partner")
    list_filter = ("status", DebtFilter, StaffAttentionFilter, "partner", ("created_at", DateRangeFilterBuilder(title="created")))
    list_select_related = ("customer", "partner", "payment_method")
    search_fields = ("=gateway_transaction_id", "=gateway_trans_id", "=capture_gateway_trans_id", "customer__email")
    search_help_text = "Gateway transaction ids, customer email; a number also matches a charge or customer id"
    ordering = ("-id",)
    show_full_result_count = False
    exclude = ("metadata", "payment_method", "amount_requested", "amount_authorized", "debt_cents")
    readonly_fields = ("requested", "authorized", "debt", "card", "masked_authorization_metadata")
    inlines = [GatewayAttemptInline]
    change_form_template = "admin/gateways/cardcharge/change_form.html"

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset | self.get_queryset(request).filter(id_search(search_term, "customer_id")), may_have_duplicates

    @admin.display(description="requested", ordering="amount_requested")
    def requested(self, charge: CardCharge) -> str:
        return money.dollars(charge.amount_requested)

    @admin.display(description="authorized", ordering="amount_authorized")
    def authorized(self, charge: CardCharge) -> str:
        return money.dollars(charge.amount_authorized) or "–"

    @admin.display(description="debt", ordering="debt_cents")
    def debt(self, charge: CardCharge) -> str:
        return money.dollars(charge.debt_cents) if charge.debt_cents else "–"

    @admin.display(description="card")
    def card(self, charge: CardCharge) -> str:
        return charge.payment_method.masked_token

    @admin.display(description="authorization metadata (card masked)")
    def masked_authorization_metadata(self, charge: CardCharge):
        return _metadata_table(charge.metadata)

    def get_queryset(self, request):
        # The changelist applies list_select_related only to a queryset without select_related: name them all here,
        # or every row fetches its customer and partner.
        return super().get_queryset(request).select_related("customer", "partner", "payment_method")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_refund": request.user.has_perm("gateways.refund_cardcharge"),
            "may_retry_capture": request.user.has_perm("gateways.retry_capture_cardcharge"),
            "refundable_statuses": [str(status) for status in REFUNDABLE_STATUSES],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<int:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name="gateways_cardcharge_refund"),
            path(
                "<int:object_id>/retry-capture/",
                self.admin_site.admin_view(self.retry_capture_view),
                name="gateways_cardcharge_retry_capture",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, object_id: int):
        """Void (not settled yet) or refund (settled) a charge: the wallet gives the cents back now, a worker
        tells the gateway."""
        if not request.user.has_perm("gateways.refund_cardcharge"):
            raise PermissionDenied
        charge = get_object_or_404(CardCharge.objects.select_related("customer", "payment_method"), pk=object_id)
        refund = charge.status == ChargeStatus.SETTLED
        return staff_action_page(
            request,
            self,
            obj=charge,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.card_charge_refund_request(
                charge_id=charge.pk, requested_by=request.user, reason=data["reason"]
            ),
            done=lambda refunding: (
                f"Charge #{charge.pk}: the wallet gave {money.dollars(refunding.amount_authorized)} back; "
                "a worker is telling the gateway.",
                reverse("admin:gateways_cardcharge_change", args=[charge.pk]),
            ),
            template="admin/gateways/cardcharge/refund.html",
            context={
                "title": f"{'Refund' if refund else 'Void'} card charge #{charge.pk}",
                "charge": charge,
                "refund": refund,
                "confirm_label": "Refund" if refund else "Void",
                "blocked": ""
                if charge.status in REFUNDABLE_STATUSES
                else f"A {charge.get_status_display().lower()} charge cannot be voided or refunded.",
            },
        )

    def retry_capture_view(self, request, object_id: int):
        if not request.user.has_perm("gateways.retry_capture_cardcharge"):
            raise PermissionDenied
        charge = get_object_or_404(CardCharge.objects.select_related("customer", "payment_method"), pk=object_id)
        return staff_action_page(
            request,
            self,
            obj=charge,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.card_charge_capture_retry(
                charge_id=charge.pk, requested_by=request.user, reason=data["reason"]
            ),
            done=lambda _: (
                f"Charge #{charge.pk}: capture sent to a worker.",
                reverse("admin:gateways_cardcharge_change", args=[charge.pk]),
            ),
            template="admin/gateways/cardcharge/retry_capture.html",
            context={
                "title": f"Retry the capture of card charge #{charge.pk}",
                "charge": charge,
                "confirm_label": "Retry capture",
                "blocked": ""
                if charge.status == ChargeStatus.AUTHORIZED
                else f"Only an authorized charge awaits capture; this one is {charge.get_status_display().lower()}.",
            },
        )


class CreditAttemptInline(GatewayAttemptInline):
    fk_name = "credit"


class CreditAttentionFilter(admin.SimpleListFilter):
    """Credits staff must look at beyond REVIEW: pending ones parked on a 30036 answer or a partial posting (the
    sweeper no longer re-sends them; the wallet stays debited until staff decide)."""

    title = "needs staff"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("parked", "pending, parked for review")]

    def queryset(self, request, queryset):
        if self.value() == "parked":
            return queryset.filter(status=CreditStatus.PENDING).exclude(review_reason="")
        return queryset


@admin.register(CardCredit)
class CardCreditAdmin(ReadOnlyModelAdmin):
    """Refunds to the card (HOP credits): read-only, each with its gateway attempts and the gateway's answer
    (card masked). A refused credit shows the reversal that gave the wallet its cents back."""

    list_display = ("id", "customer", "partner", "amount", "status", "card", "created_at", "posted_at", "batch_id")
    list_filter = ("status", CreditAttentionFilter, "partner", ("created_at", DateRangeFilterBuilder(title="created")))
    list_select_related = ("customer", "partner", "payment_method")
    search_fields = ("=gateway_transaction_id", "=gateway_trans_id", "=batch_id", "customer__email")
    search_help_text = "Gateway transaction ids, batch, customer email; a number also matches a credit or customer id"
    ordering = ("-id",)
    show_full_result_count = False
    exclude = ("metadata", "payment_method")
    readonly_fields = ("card", "masked_credit_metadata")
    inlines = [CreditAttemptInline]

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset | self.get_queryset(request).filter(id_search(search_term, "customer_id")), may_have_duplicates

    @admin.display(description="card")
    def card(self, credit: CardCredit) -> str:
        return credit.payment_method.masked_token

    @admin.display(description="credit metadata (card masked)")
    def masked_credit_metadata(self, credit: CardCredit):
        return _metadata_table(credit.metadata)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "partner", "payment_method")


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "cycle_code",
        "status",
        "charge_count",
        "amount",
        "credit_count",
        "credit_amount",
        "created_at",
        "closed_at",
    )
    list_filter = ("status",)

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, batch: SettlementBatch) -> str:
        return money.dollars(batch.amount_cents)

    @admin.display(description="credits", ordering="credit_amount_cents")
    def credit_amount(self, batch: SettlementBatch) -> str:
        return money.dollars(batch.credit_amount_cents)


def _batch_csv(upload) -> str:
    """The uploaded file as text, if it is a batch CSV (UTF-8, a header naming GatewayTransID, Amount and Type)."""
    try:
        text = upload.read(5 * 1024 * 1024 + 1).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise forms.ValidationError("The file is not UTF-8 text.") from None
    header = text.splitlines()[0] if text else ""
    if not {"GatewayTransID", "Amount", "Type"} <= set(header.split(",")):
        raise forms.ValidationError("The first line must name GatewayTransID, Amount and Type.")
    return text


class BatchFileForm(forms.ModelForm):
    csv_file = forms.FileField(help_text="The gateway's settled-batch CSV (GatewayTransID, TransactionID, Amount, Type, …).")

    class Meta:
        model = GatewayBatchFile
        fields = ("cycle_code",)

    def clean_cycle_code(self):
        cycle_code = self.cleaned_data["cycle_code"]
        if GatewayBatchFile.objects.filter(cycle_code=cycle_code, replaced_at__isnull=True).exists():
            raise forms.ValidationError("A file for this cycle is already uploaded: open it and use “Replace this file”.")
        return cycle_code

    def clean_csv_file(self):
        return _batch_csv(self.cleaned_data["csv_file"])


class ReplaceBatchFileForm(ReasonForm):
    csv_file = forms.FileField(help_text="The right CSV for this cycle. The file it replaces is kept.")

    field_order = ("csv_file", "reason")

    def clean_csv_file(self):
        return _batch_csv(self.cleaned_data["csv_file"])


@admin.register(GatewayBatchFile)
class GatewayBatchFileAdmin(admin.ModelAdmin):
    """Finance uploads the gateway's batch CSV; reconciliation matches against it instead of the export. A wrong
    file is replaced (with a reason, audited); the replaced one stays listed, marked replaced."""

    audited_by_service = True  # saves go through an audited service: no mirrored admin edit

    form = BatchFileForm
    list_display = ("cycle_code", "uploaded_by", "uploaded_at", "replaced_at", "replaced_by")
    list_filter = (("replaced_at", admin.EmptyFieldListFilter),)
    search_fields = ("=cycle_code",)
    readonly_fields = ("uploaded_by", "uploaded_at", "replaced_at", "replaced_by", "replaced_with", "content")
    change_form_template = "admin/gateways/gatewaybatchfile/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("cycle_code", "csv_file")
        return ("cycle_code", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return ("cycle_code", *self.readonly_fields) if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_replace": request.user.has_perm("gateways.add_gatewaybatchfile")}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/replace/",
                self.admin_site.admin_view(self.replace_view),
                name="gateways_gatewaybatchfile_replace",
            ),
            *super().get_urls(),
        ]

    def replace_view(self, request, object_id: int):
        """Replace a wrongly uploaded file (finance): the old one is kept, the new one is what reconciliation reads."""
        if not request.user.has_perm("gateways.add_gatewaybatchfile"):
            raise PermissionDenied
        old = get_object_or_404(GatewayBatchFile, pk=object_id)
        return staff_action_page(
            request,
            self,
            obj=old,
            form=ReplaceBatchFileForm(request.POST or None, request.FILES or None),
            perform=lambda data: services.gateway_batch_file_replace(
                file_id=old.pk, content=data["csv_file"], replaced_by=request.user, reason=data["reason"]
            ),
            done=lambda stored: (
                f"Batch file for {stored.cycle_code} replaced: #{stored.pk} is current, #{old.pk} is kept as replaced.",
                reverse("admin:gateways_gatewaybatchfile_change", args=[stored.pk]),
            ),
            template="admin/staff_action.html",
            context={
                "title": f"Replace the batch file of {old.cycle_code}",
                "confirm_label": "Replace",
                "blocked": f"This file was already replaced by #{old.replaced_with_id}." if old.replaced_at else "",
            },
        )

    def save_model(self, request, obj, form, change):
        stored = services.gateway_batch_file_store(
            cycle_code=form.cleaned_data["cycle_code"], content=form.cleaned_data["csv_file"], uploaded_by=request.user
        )
        obj.pk, obj.uploaded_at, obj.uploaded_by = stored.pk, stored.uploaded_at, stored.uploaded_by

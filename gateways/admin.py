"""Read-only admin views of card charges: what support and finance need to see about settlement
(charges in review, debts, gateway attempts). Cards show the masked token only. Staff actions (refund,
retry) arrive with the back-office issue."""

from django import forms
from django.contrib import admin

from .models import CardCharge, GatewayAttempt, GatewayBatchFile, SettlementBatch


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GatewayAttemptInline(admin.TabularInline):
    model = GatewayAttempt
    extra = 0
    can_delete = False
    fields = ("created_at", "request_type", "transaction_id", "outcome", "response_code", "response_description", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CardCharge)
class CardChargeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "customer",
        "partner",
        "amount_requested",
        "amount_authorized",
        "status",
        "debt_cents",
        "card",
        "created_at",
    )
    list_filter = ("status", "partner", "created_at")
    list_select_related = ("customer", "partner", "payment_method")
    search_fields = ("=id", "=gateway_transaction_id", "=gateway_trans_id", "=customer__id", "customer__email")
    exclude = ("metadata", "payment_method")
    readonly_fields = ("card",)
    inlines = [GatewayAttemptInline]

    @admin.display(description="card")
    def card(self, charge: CardCharge) -> str:
        return charge.payment_method.masked_token

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment_method")


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "cycle_code", "status", "charge_count", "amount_cents", "created_at", "closed_at")
    list_filter = ("status",)


class BatchFileForm(forms.ModelForm):
    csv_file = forms.FileField(help_text="The gateway's settled-batch CSV (GatewayTransID, TransactionID, Amount, Type, …).")

    class Meta:
        model = GatewayBatchFile
        fields = ("cycle_code",)

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        try:
            text = upload.read(5 * 1024 * 1024 + 1).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        header = text.splitlines()[0] if text else ""
        if not {"GatewayTransID", "Amount", "Type"} <= set(header.split(",")):
            raise forms.ValidationError("The first line must name GatewayTransID, Amount and Type.")
        return text


@admin.register(GatewayBatchFile)
class GatewayBatchFileAdmin(admin.ModelAdmin):
    """Finance uploads the gateway's batch CSV; reconciliation matches against it instead of the export."""

    form = BatchFileForm
    list_display = ("cycle_code", "uploaded_by", "uploaded_at")
    readonly_fields = ("uploaded_by", "uploaded_at")

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.content = form.cleaned_data["csv_file"]
        obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)

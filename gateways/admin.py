"""Read-only admin views of card charges: what support and finance need to see about settlement
(charges in review, debts, gateway attempts). Cards show the masked token only. Staff actions (refund,
retry) arrive with the back-office issue."""

from django.contrib import admin

from .models import CardCharge, GatewayAttempt, SettlementBatch


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

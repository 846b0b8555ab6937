"""The cents wallet in the back-office: purchases, comps and line items listed with filters (read-only: money moved
through services only), and the queue of rejected line items with the staff actions retry and write off, each on a
confirmation page with a required reason, audited."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from rangefilter.filters import DateRangeFilterBuilder

from core.admin import ReadOnlyModelAdmin, ReasonForm, id_search, staff_action_page, staff_error_message
from core.errors import ChargepayError, LineItemStateConflict

from . import services
from .models import Comp, LineItem, LineItemStatus, Purchase, RejectedLineItem


class _WalletRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "customer", "partner", "amount_cents", "venue_id", "employee_id", "description", "created_at")
    list_filter = ("partner", ("created_at", DateRangeFilterBuilder(title="created")))
    search_fields = ("=venue_id", "=employee_id", "customer__email")
    search_help_text = "Venue id, employee id, customer email; a number also matches the record or customer id"
    ordering = ("-id",)
    show_full_result_count = False
    exclude = ("idempotency_record",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "partner", "requested_by", "ledger_transaction")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset | self.get_queryset(request).filter(id_search(search_term, "customer_id")), may_have_duplicates


@admin.register(Purchase)
class PurchaseAdmin(_WalletRecordAdmin):
    list_display = ("id", "customer", "partner", "amount_cents", "qty", "tap_id", "venue_id", "employee_id", "created_at")
    search_fields = ("=venue_id", "=tap_id", "=employee_id", "customer__email")


@admin.register(Comp)
class CompAdmin(_WalletRecordAdmin):
    pass


@admin.register(LineItem)
class LineItemAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "line_item_id",
        "customer",
        "partner",
        "money_units",
        "account_name",
        "tap_id",
        "venue_id",
        "status",
        "reject_reason",
        "received_at",
    )
    list_filter = ("status", "partner", ("received_at", DateRangeFilterBuilder(title="received")))
    search_fields = ("=line_item_id", "=session_token", "=session_uuid", "=tap_id", "=venue_id", "customer__email")
    search_help_text = "line_item_id, session token or uuid, tap, venue, customer email; a number also matches an id"
    ordering = ("-id",)
    show_full_result_count = False
    change_form_template = "admin/wallet/lineitem/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "partner", "ledger_transaction", "topup_charge")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset | self.get_queryset(request).filter(id_search(search_term, "customer_id")), may_have_duplicates

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_resolve": request.user.has_perm("wallet.resolve_lineitem")}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<int:object_id>/retry/", self.admin_site.admin_view(self.retry_view), name="wallet_lineitem_retry"),
            path("<int:object_id>/write-off/", self.admin_site.admin_view(self.write_off_view), name="wallet_lineitem_write_off"),
            *super().get_urls(),
        ]

    def _resolve_page(self, request, object_id: int, *, write_off: bool):
        if not request.user.has_perm("wallet.resolve_lineitem"):
            raise PermissionDenied
        item = get_object_or_404(LineItem.objects.select_related("customer", "partner"), pk=object_id)
        service = services.line_item_write_off_by_staff if write_off else services.line_item_retry_by_staff
        return staff_action_page(
            request,
            self,
            obj=item,
            form=ReasonForm(request.POST or None),
            perform=lambda data: service(line_item_pk=item.pk, staff=request.user, reason=data["reason"]),
            done=lambda resolved: (
                f"Line item {resolved.line_item_id}: "
                + ("written off; the wallet is untouched." if write_off else "sent back to a worker to apply."),
                reverse("admin:wallet_rejectedlineitem_changelist"),
            ),
            describe_error=_resolve_error_message,
            template="admin/wallet/lineitem/resolve.html",
            context={
                "title": f"{'Write off' if write_off else 'Retry'} line item {item.line_item_id}",
                "item": item,
                "write_off": write_off,
                "confirm_label": "Write off" if write_off else "Retry",
                "blocked": ""
                if item.status == LineItemStatus.REJECTED
                else f"Only a rejected line item can be resolved; this one is {item.get_status_display().lower()}.",
            },
        )

    def retry_view(self, request, object_id: int):
        """Send a rejected line item back to the worker (after a top-up or a higher credit limit)."""
        return self._resolve_page(request, object_id, write_off=False)

    def write_off_view(self, request, object_id: int):
        """Never apply a rejected line item: the venue carries the pour."""
        return self._resolve_page(request, object_id, write_off=True)


@admin.register(RejectedLineItem)
class RejectedLineItemAdmin(LineItemAdmin):
    """The queue: line items past the credit limit, oldest first, each with its retry and write-off actions."""

    list_display = ("id", "line_item_id", "customer", "partner", "money_units", "reject_reason", "received_at", "resolve_links")
    list_filter = ("partner", ("received_at", DateRangeFilterBuilder(title="received")))
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=LineItemStatus.REJECTED)

    @admin.display(description="resolve")
    def resolve_links(self, item: LineItem):
        return format_html(
            '<a class="retry-line-item" href="{}">Retry…</a> · <a class="write-off-line-item" href="{}">Write off…</a>',
            reverse("admin:wallet_lineitem_retry", args=[item.pk]),
            reverse("admin:wallet_lineitem_write_off", args=[item.pk]),
        )


def _resolve_error_message(error: ChargepayError) -> str:
    if isinstance(error, LineItemStateConflict):
        return f"Refused ({error.code}): line item #{error.line_item_pk}: {error.why}; nothing was changed."
    return staff_error_message(error)

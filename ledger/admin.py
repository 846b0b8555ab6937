"""The ledger in the back-office: transactions (read-only, with their entries; reversal by staff with a
confirmation page), wallet and system accounts (read-only). Nobody adds, changes or deletes a ledger row through the admin."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery, Sum
from django.db.models.functions import Lower
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from rangefilter.filters import DateRangeFilterBuilder

from accounts.exports import CsvExportMixin, cents_as_dollars
from accounts.models import Customer
from core import money
from core.admin import ReadOnlyInline, ReadOnlyModelAdmin, ReasonForm, id_search, staff_action_page

from . import selectors, services
from .models import (
    Account,
    AccountKind,
    Co2Computation,
    Entry,
    GridIntensity,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Unit,
)


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ("account", "amount_shown")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="amount")
    def amount_shown(self, entry: Entry) -> str:
        return money.amount(entry.amount, entry.account.unit, signed=True)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "account__customer", "account__partner")


class Co2ComputationInline(ReadOnlyInline):
    """How a CO2 offset's kilometers were found (none for other transactions)."""

    model = Co2Computation
    verbose_name = "CO2 computation"
    fields = (
        "country",
        "factor_country",
        "grams_per_kwh",
        "factor_version",
        "factor_source",
        "factor_year",
        "energy_kwh",
        "energy_estimated",
        "max_charging_power_kw",
        "session_hours",
        "load_factor",
        "km_per_kg",
        "co2_grams",
        "kilometer_computed",
        "kilometer_sent",
    )


def _wallet_amount(txn) -> str:
    if not txn.wallet_amount:
        return ""
    return cents_as_dollars(txn.wallet_amount) if txn.wallet_unit == Unit.USD_CENTS else str(txn.wallet_amount)


@admin.register(Transaction)
class TransactionAdmin(CsvExportMixin, ReadOnlyModelAdmin):
    csv_columns = (
        ("id", "pk"),
        ("created_at", "created_at"),
        ("kind", "kind"),
        ("status", "status"),
        ("partner", "partner__code"),
        ("customer_id", "customer_id"),
        ("transactionId", "external_id"),
        ("reference", "reference"),
        ("evse_id", "evse_id"),
        ("wallet_amount", _wallet_amount),  # dollars for cents, whole kilometers for km
        ("unit", lambda txn: txn.wallet_unit or ""),
    )
    # The amount comes early, so it is on screen at 1366 px; reference and EVSE_ID are searched and on the detail.
    list_display = ("id", "created_at", "wallet_amount", "kind", "status", "partner", "customer", "external_id")
    list_filter = ("partner", "kind", "status", ("created_at", DateRangeFilterBuilder(title="created")))
    list_select_related = ("partner", "customer")
    # Exact matches on indexed columns (a partner's transactionId, reference, EVSE id), a customer's email;
    # a number also finds the transaction or customer with that id.
    search_fields = ("=external_id", "=reference", "=evse_id", "customer__email")
    search_help_text = "transactionId, reference, EVSE_ID, customer email; a number also matches a transaction or customer id"
    ordering = ("-id",)
    show_full_result_count = False  # no second COUNT(*) over the whole ledger on every page
    list_per_page = 100
    inlines = [EntryInline]
    readonly_fields = (
        "kind",
        "status",
        "customer",
        "partner",
        "external_id",
        "reference",
        "evse_id",
        "service_data",
        "reverses_link",
        "reversal_link",
        "created_by",
        "reason",
        "created_at",
    )
    fields = readonly_fields
    actions = ["reverse_selected"]

    def get_inlines(self, request, obj):
        if obj is not None and obj.kind == TransactionKind.CO2_OFFSET_CHARGING_SESSION:
            return [*self.inlines, Co2ComputationInline]
        return self.inlines

    def get_queryset(self, request):
        wallet_entries = Entry.objects.filter(transaction=OuterRef("pk"), account__kind=AccountKind.WALLET)
        return (
            super()
            .get_queryset(request)
            .annotate(
                wallet_amount=Subquery(wallet_entries.values("transaction").annotate(total=Sum("amount")).values("total")[:1]),
                wallet_unit=Subquery(wallet_entries.values("account__unit")[:1]),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        """Each search is an exact match on an indexed column, so it stays fast on a large ledger: an email
        finds the customer's transactions; anything else a partner's transactionId, a reference or an
        EVSE_ID; a number also the transaction or customer with that id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            customers = Customer.objects.annotate(email_lower=Lower("email")).filter(email_lower=term.lower()).values("pk")
            return queryset.filter(customer_id__in=customers), False
        return queryset.filter(Q(external_id=term) | Q(reference=term) | Q(evse_id=term) | id_search(term, "customer_id")), False

    @admin.display(description="wallet")
    def wallet_amount(self, txn: Transaction) -> str:
        return money.amount(txn.wallet_amount, txn.wallet_unit, signed=True) if txn.wallet_amount else "–"

    @admin.display(description="reverses")
    def reverses_link(self, txn: Transaction):
        if not txn.reverses_id:
            return "–"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:ledger_transaction_change", args=[txn.reverses_id]), txn.reverses_id
        )

    @admin.display(description="reversed by")
    def reversal_link(self, txn: Transaction):
        reversal = Transaction.objects.filter(reverses_id=txn.pk).values_list("pk", flat=True).first()
        if reversal is None:
            return "–"
        return format_html('<a href="{}">#{}</a>', reverse("admin:ledger_transaction_change", args=[reversal]), reversal)

    # --- Reversal: an action on the list and a button on the detail page, both leading to one confirmation page.

    def has_reverse_permission(self, request) -> bool:
        return services.staff_reversal_policy(staff=request.user) is not None

    @admin.action(description="Reverse the selected transaction…", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, "Select exactly one transaction: each reversal needs its own reason.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:ledger_transaction_reverse", args=[ids[0]]))

    def get_urls(self):
        return [
            path("<int:object_id>/reverse/", self.admin_site.admin_view(self.reverse_view), name="ledger_transaction_reverse"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        policy = services.staff_reversal_policy(staff=request.user)
        extra_context = {
            **(extra_context or {}),
            "may_reverse": policy is not None,
            "reversible_kinds": [str(kind) for kind in policy.kinds] if policy else [],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def reverse_view(self, request, object_id: int):
        policy = services.staff_reversal_policy(staff=request.user)
        if policy is None:
            raise PermissionDenied
        limit = policy.amount_limit
        txn = get_object_or_404(Transaction.objects.select_related("partner", "customer"), pk=object_id)
        moves = [
            {**move, "change": -move["amount"], "after": move["balance"] - move["amount"]}
            for move in selectors.transaction_wallet_moves(transaction_id=txn.pk)
        ]
        already_reversed = txn.status != TransactionStatus.CONFIRMED
        return staff_action_page(
            request,
            self,
            obj=txn,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.transaction_reverse_by_staff(
                transaction_id=txn.pk, staff=request.user, reason=data["reason"]
            ),
            done=lambda reversal: (
                f"Transaction #{txn.pk} reversed by #{reversal.pk}; the wallet is restored.",
                reverse("admin:ledger_transaction_change", args=[txn.pk]),
            ),
            template="admin/ledger/transaction/reverse.html",
            context={
                "title": f"Reverse transaction #{txn.pk}",
                "txn": txn,
                "moves": moves,
                "would_overdraw": any(move["after"] < 0 for move in moves),
                "already_reversed": already_reversed,
                "reversible_kind": txn.kind in services.STAFF_REVERSIBLE_KINDS,
                "yours_to_reverse": txn.kind in policy.kinds,
                "limit": limit,
                "over_limit": limit is not None and any(abs(move["amount"]) > limit for move in moves),
                # Nothing to confirm when it can only be refused (a state that may change, like the balance, is not here).
                "blocked": "Nothing can be done here."
                if already_reversed or txn.kind not in services.STAFF_REVERSIBLE_KINDS
                else "",
            },
        )


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "kind", "balance_shown", "customer", "partner", "code")
    list_filter = ("kind", "unit")
    list_select_related = ("customer", "partner")
    search_fields = ("=customer__id", "customer__email", "partner__code", "code")
    show_full_result_count = False
    readonly_fields = ("kind", "unit", "customer", "partner", "code", "balance_shown", "derived_balance", "created_at")
    fields = readonly_fields

    @admin.display(description="balance", ordering="balance")
    def balance_shown(self, account: Account) -> str:
        return money.amount(account.balance, account.unit)

    @admin.display(description="balance (sum of entries)")
    def derived_balance(self, account: Account) -> str:
        return money.amount(selectors.account_entries_total(account_id=account.pk), account.unit)


@admin.register(GridIntensity)
class GridIntensityAdmin(admin.ModelAdmin):
    """Finance keeps the grid intensities that price CO2 offsets. A save raises the row's version
    (services.grid_intensity_save); offsets already booked keep the figures they stored. The admin's own log entry
    becomes the audit record (accounts.audit.audit_admin_edit). Rows are not deleted: the default row "*" is needed,
    and a country without a row falls back to it anyway."""

    list_display = ("country", "grams_per_kwh", "source", "year", "version", "updated_at")
    search_fields = ("=country",)
    ordering = ("country",)
    fields = ("country", "grams_per_kwh", "source", "year", "version", "updated_at")
    readonly_fields = ("version", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return ("country", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.grid_intensity_save(row=obj, changed=change and form.has_changed())


@admin.register(Co2Computation)
class Co2ComputationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "transaction",
        "country",
        "factor_country",
        "factor_version",
        "energy_kwh",
        "co2_grams",
        "kilometer_computed",
        "kilometer_sent",
    )
    list_select_related = ("transaction",)
    list_filter = ("factor_country", "energy_estimated")
    ordering = ("-transaction_id",)
    fields = ("transaction", *Co2ComputationInline.fields)
    readonly_fields = fields
    show_full_result_count = False

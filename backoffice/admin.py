"""The customer page: found by id, email, name, a partner's userId or an RFID token; it shows both balances,
partner links, cards (masked), RFID tokens and one timeline of everything that touched the customer, with the
staff actions (grant or adjust kilometers) a role allows. It reads every app, so it lives above them all."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from rangefilter.filters import DateRangeFilterBuilder

from accounts import services as accounts_services
from accounts.exports import CsvExportMixin
from accounts.models import Customer, PartnerLink, RfidToken
from core import money
from core.admin import (
    ReadOnlyInline,
    ReadOnlyModelAdmin,
    ReasonForm,
    admin_url,
    id_search,
    staff_action_page,
    staff_error_message,
)
from core.errors import ChargepayError, CreditLimitBelowBalance, InsufficientBalance
from gateways.models import PaymentMethod
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Account, AccountKind, Unit

from . import selectors
from .forms import CreditLimitForm, KilometersForm
from .models import RefusedAttempt


class LinkInline(ReadOnlyInline):
    model = PartnerLink
    fields = ("partner", "external_user_id", "status", "created_at", "linked_at", "removed_at")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "email", "name", "km_balance", "usd_balance", "created_at")
    search_fields = ("email", "name", "=links__external_user_id", "=rfid_tokens__token")
    search_help_text = "Customer id, email, name, a partner's userId or an RFID token"
    ordering = ("-id",)
    show_full_result_count = False
    fields = ("email", "name", "created_at")
    readonly_fields = fields
    inlines = [LinkInline]
    change_form_template = "admin/accounts/customer/change_form.html"

    def get_queryset(self, request):
        wallets = Account.objects.filter(kind=AccountKind.WALLET, customer=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                km=Subquery(wallets.filter(unit=Unit.KM).values("balance")[:1]),
                usd=Subquery(wallets.filter(unit=Unit.USD_CENTS).values("balance")[:1]),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset | self.get_queryset(request).filter(id_search(search_term)), may_have_duplicates

    @admin.display(description="kilometers", ordering="km")
    def km_balance(self, customer) -> str:
        return money.kilometers(customer.km)

    @admin.display(description="dollars", ordering="usd")
    def usd_balance(self, customer) -> str:
        return money.dollars(customer.usd)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, object_id)
        if customer is not None:
            timeline = [
                {"event": event, "url": admin_url(event.link)}
                for event in selectors.customer_timeline(customer_id=customer.pk, limit=200)
            ]
            extra_context = {
                **(extra_context or {}),
                "balances": ledger_selectors.customer_balances(customer_id=customer.pk),
                "credit_limit": ledger_selectors.wallet_get(customer_id=customer.pk, unit=Unit.USD_CENTS).credit_limit,
                "may_set_credit_limit": request.user.has_perm("ledger.set_credit_limit"),
                "cards": PaymentMethod.objects.filter(customer=customer).select_related("partner").order_by("-last_used_at"),
                "rfid_tokens": RfidToken.objects.filter(customer=customer).order_by("-created_at"),
                "timeline": timeline,
                "may_adjust": request.user.has_perm("ledger.adjust_kilometers"),
                "may_send_password_reset": request.user.has_perm("accounts.send_password_reset_customer"),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/kilometers/",
                self.admin_site.admin_view(self.kilometers_view),
                name="accounts_customer_kilometers",
            ),
            path(
                "<int:object_id>/credit-limit/",
                self.admin_site.admin_view(self.credit_limit_view),
                name="accounts_customer_credit_limit",
            ),
            path(
                "<int:object_id>/password-reset/",
                self.admin_site.admin_view(self.password_reset_view),
                name="accounts_customer_password_reset",
            ),
            *super().get_urls(),
        ]

    def password_reset_view(self, request, object_id: int):
        """Send the customer a password-reset link by e-mail, with a required reason (support, finance)."""
        if not request.user.has_perm("accounts.send_password_reset_customer"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=object_id)
        return staff_action_page(
            request,
            self,
            obj=customer,
            form=ReasonForm(request.POST or None),
            perform=lambda data: accounts_services.customer_password_reset_by_staff(
                customer_id=customer.pk,
                staff=request.user,
                reason=data["reason"],
                site_url=f"{request.scheme}://{request.get_host()}",
            ),
            done=lambda user: (
                f"A password-reset link was sent to {user.email}.",
                reverse("admin:accounts_customer_change", args=[customer.pk]),
            ),
            template="admin/accounts/customer/password_reset.html",
            context={
                "title": f"Send customer {customer.pk} a password-reset link",
                "confirm_label": "Send the link",
                "blocked": "" if customer.email else "This customer has no e-mail address.",
            },
        )

    def credit_limit_view(self, request, object_id: int):
        """Set how far below zero the customer's cents balance may go at venues, with a required reason (finance)."""
        if not request.user.has_perm("ledger.set_credit_limit"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=object_id)
        wallet = ledger_selectors.wallet_get(customer_id=customer.pk, unit=Unit.USD_CENTS)
        return staff_action_page(
            request,
            self,
            obj=customer,
            form=CreditLimitForm(request.POST or None, initial={"credit_limit_cents": wallet.credit_limit}),
            perform=lambda data: ledger_services.credit_limit_set_by_staff(
                customer=customer, credit_limit_cents=data["credit_limit_cents"], staff=request.user, reason=data["reason"]
            ),
            done=lambda changed: (
                f"The credit limit is now {money.dollars(changed.credit_limit)}.",
                reverse("admin:accounts_customer_change", args=[customer.pk]),
            ),
            describe_error=_credit_limit_error_message,
            template="admin/accounts/customer/credit_limit.html",
            context={
                "title": f"Set the cents credit limit of customer {customer.pk}",
                "wallet": wallet,
                "confirm_label": "Set the limit",
            },
        )

    def kilometers_view(self, request, object_id: int):
        """Grant (goodwill) or adjust (correct) a customer's kilometers, with a required reason (finance)."""
        if not request.user.has_perm("ledger.adjust_kilometers"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=object_id)
        form = KilometersForm(request.POST or None)
        return staff_action_page(
            request,
            self,
            obj=customer,
            form=form,
            perform=lambda data: ledger_services.kilometers_change_by_staff(
                customer=customer,
                kilometer=form.signed_kilometers(),
                goodwill=data["purpose"] == KilometersForm.GOODWILL,
                reason=data["reason"],
                staff=request.user,
            ),
            done=lambda txn: (
                f"Recorded as transaction #{txn.pk}.",
                reverse("admin:accounts_customer_change", args=[customer.pk]),
            ),
            describe_error=_correction_error_message,
            template="admin/accounts/customer/kilometers.html",
            context={
                "title": f"Grant or adjust kilometers of customer {customer.pk}",
                "balances": ledger_selectors.customer_balances(customer_id=customer.pk),
                "confirm_label": "Record",
            },
        )


def _correction_error_message(error: ChargepayError) -> str:
    if isinstance(error, InsufficientBalance):
        # Not "spent since" (the wording of a refused reversal): a correction asked for more than the wallet holds.
        return (
            f"Refused ({error.code}): the wallet holds {error.available} km, less than the {error.requested} km to take away; "
            "nothing was changed."
        )
    return staff_error_message(error)


def _credit_limit_error_message(error: ChargepayError) -> str:
    if isinstance(error, CreditLimitBelowBalance):
        return (
            f"Refused ({error.code}): the balance is {money.dollars(error.balance)}, below minus the "
            f"{money.dollars(error.credit_limit)} asked for; "
            "nothing was changed."
        )
    return staff_error_message(error)


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(CsvExportMixin, ReadOnlyModelAdmin):
    """API requests refused after authentication (DESIGN §12), newest first: found by transactionId, userId,
    request id, error code or Idempotency-Key; each says why in words and links to the customer it named."""

    list_display = ("created_at", "partner", "user_id", "amount_shown", "error_code", "reason_short", "customer_link")
    csv_columns = (
        ("id", "pk"),
        ("created_at", "created_at"),
        ("api", "api"),
        ("partner", "partner__code"),
        ("userId", "user_id"),
        ("customer_id", "customer_id"),
        ("transactionId", "transaction_id"),
        ("idempotency_key", "idempotency_key"),
        ("amount", "amount"),  # as asked: kilometers (&Charge) or cents (HOP)
        ("unit", "unit"),
        ("status", "status"),
        ("error_code", "error_code"),
        ("error_args", "error_args"),
        ("reason", selectors.refusal_reason),
        ("request_id", "request_id"),
        ("method", "method"),
        ("path", "path"),
    )
    list_filter = ("api", "error_code", "status", ("created_at", DateRangeFilterBuilder(title="when")))
    list_select_related = ("partner",)
    search_fields = ("=transaction_id", "=user_id", "=request_id", "=error_code", "=idempotency_key")
    search_help_text = "transactionId, userId (or HOP customer id, RFID token), request id, error code or Idempotency-Key"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    fields = (
        "created_at",
        "reason",
        "api",
        "method",
        "path",
        "status",
        "error_code",
        "error_args",
        "partner",
        "user_id",
        "customer_link",
        "transaction_id",
        "idempotency_key",
        "amount_shown",
        "request_id",
    )
    readonly_fields = fields

    @admin.display(description="amount")
    def amount_shown(self, attempt: RefusedAttempt) -> str:
        return money.amount(attempt.amount, attempt.unit)

    @admin.display(description="why")
    def reason(self, attempt: RefusedAttempt) -> str:
        return selectors.refusal_reason(attempt)

    @admin.display(description="why")
    def reason_short(self, attempt: RefusedAttempt) -> str:
        text = selectors.refusal_reason(attempt)
        return text if len(text) <= 90 else f"{text[:89]}…"

    @admin.display(description="customer")
    def customer_link(self, attempt: RefusedAttempt) -> str:
        if attempt.customer_id is None:
            return "—"
        url = admin_url(("accounts.customer", attempt.customer_id))
        return format_html('<a href="{}">customer {}</a>', url, attempt.customer_id)

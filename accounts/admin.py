"""People and partners in the back-office.

- Customers: found by id, email, name, a partner's userId or an RFID token; the page shows both balances,
  partner links, cards (masked), RFID tokens and one timeline of everything that touched the customer,
  with the staff actions (grant or adjust kilometers) a role allows.
- Partners: API keys (created by staff with the secret shown once, revoked with a reason), service
  accounts, links.
- The audit log: read-only and never deletable.
Customer, partner and audit rows are not edited here: they change through services, by audited actions.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from rangefilter.filters import DateRangeFilterBuilder
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from core.admin import ReadOnlyModelAdmin, ReasonForm, render_staff_page, staff_action_page, staff_error_message
from core.errors import ChargepayError, InsufficientBalance
from gateways import selectors as gateway_selectors
from gateways.models import PaymentMethod
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Account, AccountKind, Unit

from . import services
from .forms import ApiKeyForm, KilometersForm
from .models import AuditLog, Customer, Partner, PartnerApiKey, PartnerLink, RfidToken, User

# simplejwt's own admin would show every partner's refresh token in full, which lets a staff member act as the
# partner: token rows stay out of the back-office (a revoked API key, or the blacklist, is how access is cut).
for token_model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(token_model):
        admin.site.unregister(token_model)

admin.site.site_header = "chargepay back-office"
admin.site.site_title = "chargepay back-office"
admin.site.index_title = "Customers, ledger, card charges and reconciliation"


def _admin_url(link: tuple[str, int] | None) -> str:
    if link is None:
        return ""
    app_label, model = link[0].split(".")
    try:
        return reverse(f"admin:{app_label}_{model}_change", args=[link[1]])
    except NoReverseMatch:
        return ""


class LinkInline(admin.TabularInline):
    model = PartnerLink
    extra = 0
    can_delete = False
    fields = ("partner", "external_user_id", "status", "created_at", "linked_at")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
        term = search_term.strip()
        if term.isascii() and term.isdigit() and len(term) <= 18:
            queryset |= self.get_queryset(request).filter(pk=int(term))
        return queryset, may_have_duplicates

    @admin.display(description="kilometers", ordering="km")
    def km_balance(self, customer) -> int:
        return customer.km

    @admin.display(description="cents", ordering="usd")
    def usd_balance(self, customer) -> int:
        return customer.usd

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, object_id)
        if customer is not None:
            timeline = [
                {"event": event, "url": _admin_url(event.link)}
                for event in gateway_selectors.customer_timeline(customer_id=customer.pk, limit=200)
            ]
            extra_context = {
                **(extra_context or {}),
                "balances": ledger_selectors.customer_balances(customer_id=customer.pk),
                "cards": PaymentMethod.objects.filter(customer=customer).order_by("-last_used_at"),
                "rfid_tokens": RfidToken.objects.filter(customer=customer).order_by("-created_at"),
                "timeline": timeline,
                "may_adjust": request.user.has_perm("ledger.adjust_kilometers"),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/kilometers/",
                self.admin_site.admin_view(self.kilometers_view),
                name="accounts_customer_kilometers",
            ),
            *super().get_urls(),
        ]

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
        available, requested = error.args
        return (
            f"Refused ({error.code}): the wallet holds {available} km, less than the {requested} km to take away; "
            "nothing was changed."
        )
    return staff_error_message(error)


class ApiKeyInline(admin.TabularInline):
    model = PartnerApiKey
    extra = 0
    can_delete = False
    fields = ("access_key_id", "label", "created_at", "revoked_at", "revoke")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def revoke(self, key: PartnerApiKey):
        if key.revoked_at is not None:
            return "revoked"
        url = reverse("admin:accounts_partner_revoke_api_key", args=[key.partner_id, key.pk])
        return format_html('<a class="revoke-api-key" href="{}">Revoke…</a>', url)


class ServiceAccountInline(admin.TabularInline):
    model = User
    fk_name = "partner"
    verbose_name = "service account (HOP)"
    verbose_name_plural = "service accounts (HOP)"
    extra = 0
    can_delete = False
    fields = ("email", "is_active", "date_joined", "last_login")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Partner)
class PartnerAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "name", "is_active", "created_at")
    search_fields = ("code", "name")
    fields = ("code", "name", "is_active", "created_at", "links")
    readonly_fields = fields
    inlines = [ApiKeyInline, ServiceAccountInline]
    change_form_template = "admin/accounts/partner/change_form.html"

    @admin.display(description="links")
    def links(self, partner: Partner):
        url = reverse("admin:accounts_partnerlink_changelist") + f"?partner__id__exact={partner.pk}"
        linked = partner.links.filter(status="LINKED").count()
        return format_html('<a href="{}">{} linked, {} in all</a>', url, linked, partner.links.count())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_create_key": request.user.has_perm("accounts.add_partnerapikey")}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/api-keys/new/",
                self.admin_site.admin_view(self.create_key_view),
                name="accounts_partner_create_api_key",
            ),
            path(
                "<int:object_id>/api-keys/<int:key_id>/revoke/",
                self.admin_site.admin_view(self.revoke_key_view),
                name="accounts_partner_revoke_api_key",
            ),
            *super().get_urls(),
        ]

    def create_key_view(self, request, object_id: int):
        """Create an API key; its secret is shown on the answer page once and never again."""
        if not request.user.has_perm("accounts.add_partnerapikey"):
            raise PermissionDenied
        partner = get_object_or_404(Partner, pk=object_id)

        def create(data):
            key, secret = services.api_key_create_by_staff(
                partner=partner, label=data["label"], staff=request.user, reason=data["reason"]
            )
            response = render_staff_page(
                request,
                self,
                "admin/accounts/partner/api_key_created.html",
                {"title": f"API key for {partner.code}", "key": key, "secret": secret},
                obj=partner,
            )
            response["Cache-Control"] = "no-store"
            return response

        return staff_action_page(
            request,
            self,
            obj=partner,
            form=ApiKeyForm(request.POST or None),
            perform=create,
            done=None,  # `create` answers itself
            template="admin/accounts/partner/api_key_new.html",
            context={"title": f"New API key for {partner.code}", "confirm_label": "Create key"},
        )

    def revoke_key_view(self, request, object_id: int, key_id: int):
        if not request.user.has_perm("accounts.change_partnerapikey"):
            raise PermissionDenied
        partner = get_object_or_404(Partner, pk=object_id)
        key = get_object_or_404(PartnerApiKey, pk=key_id, partner=partner)
        return staff_action_page(
            request,
            self,
            obj=partner,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.api_key_revoke_by_staff(key_id=key.pk, staff=request.user, reason=data["reason"]),
            done=lambda revoked: (
                f"API key {revoked.access_key_id} revoked; its tokens stop working now.",
                reverse("admin:accounts_partner_change", args=[partner.pk]),
            ),
            template="admin/accounts/partner/api_key_revoke.html",
            context={
                "title": f"Revoke API key {key.access_key_id}",
                "key": key,
                "confirm_label": "Revoke key",
                "blocked": "This key is already revoked." if key.revoked_at else "",
            },
        )


@admin.register(PartnerLink)
class PartnerLinkAdmin(ReadOnlyModelAdmin):
    list_display = ("partner", "external_user_id", "customer", "status", "created_at", "linked_at")
    list_filter = ("status", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=external_user_id", "=customer__id", "customer__email")
    show_full_result_count = False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "action",
        "target",
        "customer",
        "partner",
        "reason",
        "balances_before",
        "balances_after",
    )
    list_filter = ("action", ("created_at", DateRangeFilterBuilder(title="when")), "actor")
    list_select_related = ("actor", "customer", "partner")
    search_fields = ("actor__username", "reason", "=object_id", "customer__email", "=customer__id", "partner__code")
    search_help_text = "Staff username, reason, object id, customer email or id, partner code"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    fields = (
        "created_at",
        "actor",
        "action",
        "target",
        "customer",
        "partner",
        "reason",
        "balances_before",
        "balances_after",
        "detail",
    )
    readonly_fields = fields

    @admin.display(description="object")
    def target(self, record: AuditLog):
        url = _admin_url((record.object_type, int(record.object_id)) if record.object_id.isdigit() else None)
        label = f"{record.object_type} #{record.object_id}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    def get_actions(self, request):
        return {}  # not even the bulk delete


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Staff and service accounts. Groups `support` and `finance` give the back-office roles (accounts.roles)."""

    list_display = ("username", "email", "is_staff", "is_superuser", "partner", "group_names", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    list_select_related = ("partner",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="groups")
    def group_names(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())

    def has_delete_permission(self, request, obj=None):
        return False  # users are referenced by the ledger and the audit log; deactivate instead

"""People and partners in the back-office.

(The customer page, which shows every app's records, is the back-office app's: backoffice/admin.py.)
- Partners: API keys (created by staff with the secret shown once, revoked with a reason), service
  accounts, links.
- The audit log: read-only and never deletable.
Customer, partner and audit rows are not edited here: they change through services, by audited actions.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from rangefilter.filters import DateRangeFilterBuilder
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from core import money
from core.admin import ReadOnlyInline, ReadOnlyModelAdmin, ReasonForm, admin_url, render_staff_page, staff_action_page

from . import services
from .exports import CsvExportMixin
from .forms import ApiKeyForm
from .models import AuditLog, Partner, PartnerApiKey, PartnerCallbackPrefix, PartnerLink, PartnerStatus, User

# simplejwt's own admin would show every partner's refresh token in full, which lets a staff member act as the
# partner: token rows stay out of the back-office (a revoked API key, or the blacklist, is how access is cut).
for token_model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(token_model):
        admin.site.unregister(token_model)

admin.site.site_header = "chargepay back-office"
admin.site.site_title = "chargepay back-office"
admin.site.index_title = "Customers, ledger, card charges and reconciliation"
# "View site": the service has no public site; its front door is the API documentation.
admin.site.site_url = "/api/docs/andcharge/"


class ApiKeyInline(ReadOnlyInline):
    model = PartnerApiKey
    fields = ("access_key_id", "label", "created_at", "revoked_at", "revoke")

    @admin.display(description="")
    def revoke(self, key: PartnerApiKey):
        if key.revoked_at is not None:
            return "revoked"
        url = reverse("admin:accounts_partner_revoke_api_key", args=[key.partner_id, key.pk])
        return format_html('<a class="revoke-api-key" href="{}">Revoke…</a>', url)


class ServiceAccountInline(ReadOnlyInline):
    model = User
    fk_name = "partner"
    verbose_name = "service account (HOP)"
    verbose_name_plural = "service accounts (HOP)"
    fields = ("email", "is_active", "date_joined", "last_login")


class CallbackPrefixInline(ReadOnlyInline):
    model = PartnerCallbackPrefix
    fields = ("prefix",)
    verbose_name_plural = "callback prefixes (the hosted link page returns only to these; manage them under Callback prefixes)"


class CallbackPrefixForm(forms.ModelForm):
    class Meta:
        model = PartnerCallbackPrefix
        fields = ("partner", "prefix")

    def clean_prefix(self):
        prefix = self.cleaned_data["prefix"].strip()
        parts = urlsplit(prefix)
        if not parts.scheme or not parts.netloc or "@" in parts.netloc or parts.query or parts.fragment:
            raise forms.ValidationError(
                "A scheme, a host and an optional path, e.g. https://app.example/linked or myapp://and-charge."
            )
        if any(char.isspace() or char == "\\" for char in prefix):
            raise forms.ValidationError("No spaces or backslashes.")
        if parts.scheme.lower() in {"javascript", "data", "vbscript", "file"}:
            raise forms.ValidationError("This scheme cannot be a callback.")
        return prefix


@admin.register(PartnerCallbackPrefix)
class PartnerCallbackPrefixAdmin(admin.ModelAdmin):
    """Where the hosted link page may send a customer back to, per partner. Changes are mirrored into the audit log
    (the admin's own edits)."""

    form = CallbackPrefixForm
    list_display = ("partner", "prefix")
    list_filter = ("partner",)
    search_fields = ("prefix", "partner__code")
    autocomplete_fields = ("partner",)


@admin.register(Partner)
class PartnerAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "name", "status", "is_active", "created_at")
    list_filter = ("status",)
    search_fields = ("code", "name")
    fields = ("code", "name", "status", "is_active", "type", "web", "logo", "descriptions", "created_at", "activated_at", "links")
    readonly_fields = fields
    inlines = [ApiKeyInline, ServiceAccountInline, CallbackPrefixInline]
    change_form_template = "admin/accounts/partner/change_form.html"

    @admin.display(description="links")
    def links(self, partner: Partner):
        url = reverse("admin:accounts_partnerlink_changelist") + f"?partner__id__exact={partner.pk}"
        linked = partner.links.filter(status="LINKED").count()
        return format_html('<a href="{}">{} linked, {} in all</a>', url, linked, partner.links.count())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_create_key": request.user.has_perm("accounts.add_partnerapikey"),
            "may_activate": request.user.has_perm("accounts.change_partner")
            and Partner.objects.filter(pk=object_id, status=PartnerStatus.INITIAL).exists(),
        }
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
            path("<int:object_id>/activate/", self.admin_site.admin_view(self.activate_view), name="accounts_partner_activate"),
            *super().get_urls(),
        ]

    def activate_view(self, request, object_id: int):
        """Activate a registered (INITIAL) partner, with a reason (audited)."""
        if not request.user.has_perm("accounts.change_partner"):
            raise PermissionDenied
        partner = get_object_or_404(Partner, pk=object_id)
        return staff_action_page(
            request,
            self,
            obj=partner,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.partner_activate_by_staff(
                partner_id=partner.pk, staff=request.user, reason=data["reason"]
            ),
            done=lambda activated: (
                f"Partner {activated.code} activated; its calls are served from now on.",
                reverse("admin:accounts_partner_change", args=[partner.pk]),
            ),
            template="admin/accounts/partner/activate.html",
            context={
                "title": f"Activate partner {partner.code}",
                "confirm_label": "Activate partner",
                "blocked": "" if partner.status == PartnerStatus.INITIAL else "This partner is already active.",
            },
        )

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
    """Links with their status and the activation code's times; never the code (only its digest is stored, and
    that is not shown either)."""

    list_display = (
        "partner",
        "external_user_id",
        "customer",
        "status",
        "created_at",
        "linked_at",
        "removed_at",
        "activation_code_issued_at",
        "activation_code_used_at",
        "activation_code_expires_at",
    )
    fields = list_display
    readonly_fields = fields
    list_filter = ("status", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=external_user_id", "=customer__id", "customer__email")
    show_full_result_count = False


def _balances(balances) -> str:
    """{"KM": 45, "USD": 0} as `45 km · $0.00` ("-" when the action moved no balance)."""
    if not isinstance(balances, dict) or not balances:
        return "–"
    return " · ".join(money.amount(value, unit) for unit, value in balances.items())


@admin.register(AuditLog)
class AuditLogAdmin(CsvExportMixin, ReadOnlyModelAdmin):
    csv_columns = (
        ("id", "pk"),
        ("created_at", "created_at"),
        ("actor", "actor__username"),
        ("action", "action"),
        ("object_type", "object_type"),
        ("object_id", "object_id"),
        ("customer_id", "customer_id"),
        ("partner", "partner__code"),
        ("reason", "reason"),
        ("balances_before", "balances_before"),
        ("balances_after", "balances_after"),
        ("detail", "detail"),
    )
    list_display = (
        "created_at",
        "actor",
        "action",
        "target",
        "customer",
        "partner",
        "reason",
        "before",
        "after",
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
        "before",
        "after",
        "detail",
    )
    readonly_fields = fields

    @admin.display(description="balances before")
    def before(self, record: AuditLog) -> str:
        return _balances(record.balances_before)

    @admin.display(description="balances after")
    def after(self, record: AuditLog) -> str:
        return _balances(record.balances_after)

    @admin.display(description="object")
    def target(self, record: AuditLog):
        url = admin_url((record.object_type, int(record.object_id)) if record.object_id.isdigit() else None)
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

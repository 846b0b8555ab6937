from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api import links as links_views
from accounts.api import partners as partners_views
from accounts.api import views as accounts_views
from core.api.handlers import hop_not_found, not_found
from gateways.api import credits as gateways_credits
from gateways.api import views as gateways_views
from ledger.api import partners as ledger_partners_views
from ledger.api import views as ledger_views
from ledger.pages.link import LinkConfirmView
from wallet.api import drinkcommand as drinkcommand_views
from wallet.api import views as wallet_views
from webhooks.api import views as webhooks_views

andcharge = [
    path("public/v1/login/partner/token", accounts_views.PartnerLoginView.as_view(), name="andcharge-login"),
    path("public/v1/partners", ledger_partners_views.PartnerRegistrationView.as_view(), name="andcharge-partners"),
    path("public/v1/tokens", accounts_views.PartnerTokenRefreshView.as_view(), name="andcharge-tokens"),
    path("v1/partners/<str:partner_id>/apikey", partners_views.ApiKeyRotateView.as_view(), name="andcharge-apikey"),
    path("v1/partners/<str:partner_id>/ping", accounts_views.PartnerPingView.as_view(), name="andcharge-ping"),
    path("v1/partners/<str:partner_id>/accounts", links_views.PartnerAccountsView.as_view(), name="andcharge-links"),
    path(
        "v1/partners/<str:partner_id>/transactions",
        ledger_views.PartnerTransactionsView.as_view(),
        name="andcharge-partner-transactions",
    ),
    path("v1/partners/<str:partner_id>/accounts/<str:user_id>", ledger_views.AccountView.as_view(), name="andcharge-account"),
    path(
        "v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions",
        ledger_views.AccountTransactionsView.as_view(),
        name="andcharge-transactions",
    ),
    path(
        "public/v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions",
        ledger_views.PublicAccountTransactionsView.as_view(),
        name="andcharge-transactions-public",
    ),
    path(
        "v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions/<str:transaction_id>",
        ledger_views.AccountTransactionDetailView.as_view(),
        name="andcharge-transaction",
    ),
    path("v1/partners/<str:partner_id>/webhooks", webhooks_views.WebhooksView.as_view(), name="andcharge-webhooks"),
    path(
        "v1/partners/<str:partner_id>/webhooks/<str:webhook_id>", webhooks_views.WebhookView.as_view(), name="andcharge-webhook"
    ),
    path(
        "v1/partners/<str:partner_id>/webhooks/<str:webhook_id>/secret",
        webhooks_views.WebhookSecretView.as_view(),
        name="andcharge-webhook-secret",
    ),
]

hop = [
    path("api/v1/auth/token", accounts_views.HopTokenView.as_view(), name="hop-auth-token"),
    path("api/v1/users/<str:user_id>/charges", gateways_views.CustomerChargesView.as_view(), name="hop-charges"),
    path(
        "api/v1/users/<str:user_id>/charges/<str:charge_id>", gateways_views.CustomerChargeDetailView.as_view(), name="hop-charge"
    ),
    path("api/v1/users/<str:user_id>/credits", gateways_credits.CustomerCreditsView.as_view(), name="hop-credits"),
    path("api/v1/users/<str:user_id>/transactions", wallet_views.TransactionsView.as_view(), name="hop-transactions"),
    path("api/v1/rfid/<str:session_token>/charges", gateways_views.RfidChargesView.as_view(), name="hop-rfid-charges"),
    path("api/v1/users/<str:user_id>", wallet_views.UserView.as_view(), name="hop-user"),
    path("api/v1/users/<str:user_id>/purchases", wallet_views.PurchasesView.as_view(), name="hop-purchases"),
    path("api/v1/users/<str:user_id>/comps", wallet_views.CompsView.as_view(), name="hop-comps"),
    path(
        "api/v1/drinkcommand/customer/<str:session_token>",
        drinkcommand_views.DrinkCommandCustomerView.as_view(),
        name="hop-drinkcommand-customer",
    ),
    path(
        "api/v1/drinkcommand/charge/<str:session_token>",
        drinkcommand_views.DrinkCommandChargeView.as_view(),
        name="hop-drinkcommand-charge",
    ),
    path(
        "api/v1/drinkcommand/line_item/<str:session_token>",
        drinkcommand_views.DrinkCommandLineItemView.as_view(),
        name="hop-drinkcommand-line-item",
    ),
]

# Each document its own title and the hooks that add what every operation of that API answers.
ANDCHARGE_SCHEMA = {
    "TITLE": "&Charge partner API (Charge&Pay, kilometers)",
    "DESCRIPTION": "Pay for EV charging sessions with a linked user's kilometers. Errors are "
    '`{"error": CODE, "args": [...]}`; every answer carries `X-Request-Id`; JSON whatever `Accept` says; '
    "request bodies over 64 KiB are refused unread (413).",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.openapi.andcharge_postprocess"],
}
HOP_SCHEMA = {
    "TITLE": "HOP API (card top-ups, cents)",
    "DESCRIPTION": "Charge a customer's stored card through the gateway and top up the cents balance; spend it "
    "(purchases, the Drink Command tap system's line items), comp it, read the customer and the history. Errors are "
    '`{"data": {"code", "message", "errors": {field: [messages]}}}`; every answer carries `X-Request-Id`; JSON '
    "whatever `Accept` says; request bodies over 64 KiB are refused unread (413).",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.openapi.hop_postprocess"],
}

urlpatterns = [
    *andcharge,
    *hop,
    path("api/schema/hop/", SpectacularAPIView.as_view(patterns=hop, custom_settings=HOP_SCHEMA), name="schema-hop"),
    path("api/docs/hop/", SpectacularSwaggerView.as_view(url_name="schema-hop"), name="docs-hop"),
    path(
        "api/schema/andcharge/",
        SpectacularAPIView.as_view(patterns=andcharge, custom_settings=ANDCHARGE_SCHEMA),
        name="schema-andcharge",
    ),
    path("api/docs/andcharge/", SpectacularSwaggerView.as_view(url_name="schema-andcharge"), name="docs-andcharge"),
    path("admin/", admin.site.urls),
    path("link/confirm", LinkConfirmView.as_view(), name="link-confirm"),
    # A customer sets a password from the link staff sent (Django's password reset, in the hosted pages' look).
    path(
        "account/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="customers/password_reset_confirm.html", success_url=reverse_lazy("customer-password-reset-done")
        ),
        name="customer-password-reset-confirm",
    ),
    path(
        "account/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="customers/password_reset_complete.html"),
        name="customer-password-reset-done",
    ),
    # Any other path under the &Charge prefixes answers in its envelope, with DEBUG on or off.
    re_path(r"^(v1|public)/", not_found),
    re_path(r"^api/v1/", hop_not_found),
]

handler404 = "core.api.handlers.not_found"
handler500 = "core.api.handlers.internal_error"

"""Every page of the back-office answers: each list and each object's page loads for a superuser (never a 500), and
each role reads exactly the lists its group allows; a staff user in no group logs in and reads nothing."""

from datetime import date

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import PartnerCallbackPrefix, PartnerEvent, User
from accounts.tests.helpers import bearer, login
from backoffice.tests.helpers import staff_member
from gateways import services as gateway_services
from gateways.models import GatewayBatchFile
from gateways.tests.factories import CardChargeFactory
from ledger import services as ledger_services
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import CO2_REQUEST, grant, grid_intensities_seed, wallet_of
from reconciliation.services import reconcile
from statements import services as statements_services
from wallet import services as wallet_services
from webhooks import services as webhooks_services
from webhooks.models import WebhookDelivery

# What each role reads (DESIGN §8 and accounts.roles): the back-office apps, and finance the beat schedules too.
BACK_OFFICE = {
    "accounts.customer",
    "accounts.partner",
    "accounts.partnerlink",
    "accounts.partnercallbackprefix",
    "accounts.auditlog",
    "accounts.user",
    "ledger.transaction",
    "ledger.account",
    "ledger.co2computation",
    "ledger.gridintensity",
    "statements.partnerstatement",
    "reconciliation.reconciliationrun",
    "reconciliation.reconciliationfinding",
    "gateways.cardcharge",
    "gateways.cardcredit",
    "gateways.settlementbatch",
    "gateways.gatewaybatchfile",
    "accounts.partnerevent",
    "webhooks.webhookendpoint",
    "webhooks.webhookdelivery",
    "backoffice.refusedattempt",
    "wallet.purchase",
    "wallet.comp",
    "wallet.lineitem",
    "wallet.rejectedlineitem",
}
READS = {
    "support": BACK_OFFICE,
    "finance": BACK_OFFICE
    | {"django_celery_beat.periodictask", "django_celery_beat.crontabschedule", "django_celery_beat.intervalschedule"},
    "nogroup": set(),
}
MODELS = sorted(model._meta.label_lower for model in admin.site._registry)


@pytest.fixture
def everything(settings, gateway_settings, partner, link, api_key, service_account, hop_customer, finance_user, support_user):
    """At least one row of every model the admin lists."""
    customer = link.customer
    grant(customer, 100)
    PartnerCallbackPrefix.objects.create(partner=partner, prefix="https://app.partner.example/linked")
    accounts_services.rfid_token_add(customer=customer, token="RFID-0001")
    key, secret = api_key
    tokens = login(APIClient(), key.access_key_id, secret).json()  # an outstanding refresh token ...
    accounts_services.partner_tokens_refresh(raw_refresh_token=tokens["refreshToken"])  # ... and a blacklisted one
    settings.WEBHOOK_ALLOW_PRIVATE = True  # a webhook endpoint nobody listens on: its delivery fails and is logged
    webhooks_services.endpoint_create(partner=partner, url="http://127.0.0.1:9/hooks", event_types=["transaction.cancelled"])
    bearer(tokens["accessToken"]).get("/v1/partners/PCS-001/accounts/noSuchUser")  # a refused attempt
    payment = SessionPaymentFactory(partner=partner, external_user_id="pcsUserId001", external_id="T-9001", kilometer=38)
    ledger_services.transaction_reverse_by_staff(transaction_id=payment.pk, staff=support_user, reason="charger fault")
    webhooks_services.event_dispatch(event_pk=PartnerEvent.objects.get().pk)
    webhooks_services.delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    grid_intensities_seed()
    ledger_services.co2_offset_pay(
        partner_code=partner.code,
        access_key_id=None,
        external_user_id="pcsUserId001",
        external_id="CO2-9001",
        kilometer=None,
        service_data=dict(CO2_REQUEST["serviceSpecificData"]),
    )
    statements_services.statement_close(partner=partner, month=date(2026, 1, 1))
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=500)
    gateway_services.card_charge_capture(charge_id=charge.pk)
    gateway_services.card_credit_create(requested_by=service_account, customer=hop_customer, amount_cents=500)
    gateway_services.settlement_close()
    gateway_services.gateway_batch_file_store(
        cycle_code="C-1", content="GatewayTransID,Amount,Type\r\n1,500,sale\r\n", uploaded_by=finance_user
    )
    with connection.cursor() as cursor:  # a wallet out of step with its entries: a finding
        cursor.execute("UPDATE ledger_account SET balance = balance - 1 WHERE id = %s", [wallet_of(customer).pk])
    reconcile(business_date=timezone.localdate())
    wallet_services.comp_create(requested_by=service_account, customer=hop_customer, amount_cents=100)
    wallet_services.purchase_create(requested_by=service_account, customer=hop_customer, amount_cents=50)
    rejected, _ = wallet_services.line_item_receive(
        requested_by=service_account,
        customer=hop_customer,
        session_token="RFID-0001",
        fields={"line_item_id": "li-1", "money_units": -99999},
    )
    settings.AUTO_TOPUP_CENTS = 0
    wallet_services.line_item_apply(line_item_pk=rejected.pk)
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="sweep", task="gateways.sweep_card_charges", interval=every)
    CrontabSchedule.objects.create(minute="0", hour="4")
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=50.1, longitude=8.6)
    Client().post("/admin/login/", {"username": "nobody", "password": "wrong"})  # an axes access attempt
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff_member("logs.in", password="logs-in-password-2026")
    Client().post("/admin/login/", {"username": "logs.in", "password": "logs-in-password-2026"})  # an axes access log


@pytest.mark.parametrize("label", MODELS)
def test_every_list_and_object_page_loads_for_a_superuser(superuser_client, everything, label):
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    listing = superuser_client.get(reverse(f"{name}_changelist"))
    objects = list(model._default_manager.order_by("pk")[:3])
    pages = [superuser_client.get(reverse(f"{name}_change", args=[obj.pk])) for obj in objects]

    assert listing.status_code == 200
    assert [page.status_code for page in pages] == [200] * len(objects)


def test_the_fixture_leaves_a_row_for_every_model(everything):
    empty = [m._meta.label_lower for m in admin.site._registry if not m._default_manager.exists()]

    assert empty == ["axes.accessfailurelog"]  # kept only when AXES_ENABLE_ACCESS_FAILURE_LOG is on


@pytest.mark.parametrize("role", ["support", "finance", "nogroup"])
def test_each_role_reads_exactly_its_lists(request, role, db):
    client = request.getfixturevalue(f"{role}_client")

    statuses = {}
    for model in admin.site._registry:
        response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        statuses[model._meta.label_lower] = response.status_code

    assert {label for label, status in statuses.items() if status == 200} == READS[role]
    assert {label for label, status in statuses.items() if status != 200} == set(MODELS) - READS[role]
    assert set(statuses.values()) <= {200, 403}


def test_staff_in_no_group_logs_in_to_the_admin(settings, db):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff_member("nora.nogroup", password="nora-password-2026")
    client = Client()

    response = client.post("/admin/login/", {"username": "nora.nogroup", "password": "nora-password-2026", "next": "/admin/"})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_customer_or_service_account_cannot_log_in_to_the_admin(settings, service_account):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    service_account.set_password("service-password-2026")
    service_account.save()
    client = Client()

    response = client.post("/admin/login/", {"username": service_account.username, "password": "service-password-2026"})

    assert response.status_code == 200  # the form again: not staff
    assert client.get("/admin/").status_code == 302


def test_users_are_never_deleted_in_the_admin(superuser_client, support_user):
    response = superuser_client.post(reverse("admin:accounts_user_delete", args=[support_user.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert User.objects.filter(pk=support_user.pk).exists()


def test_the_admin_index_of_each_role(support_client, finance_client):
    support_models = {m["object_name"] for app in support_client.get("/admin/").context["app_list"] for m in app["models"]}
    finance_models = {m["object_name"] for app in finance_client.get("/admin/").context["app_list"] for m in app["models"]}

    assert "CardCharge" in support_models and "AuditLog" in support_models
    assert finance_models - support_models == {"PeriodicTask", "CrontabSchedule", "IntervalSchedule"}


def test_batch_files_are_uploaded_but_never_changed_or_deleted(finance_client, superuser_client, finance_user):
    finance_client.post(
        reverse("admin:gateways_gatewaybatchfile_add"),
        {"cycle_code": "C-2", "csv_file": SimpleUploadedFile("b.csv", b"GatewayTransID,Amount,Type\r\n1,500,sale\r\n")},
    )
    stored = GatewayBatchFile.objects.get(cycle_code="C-2")

    change = superuser_client.post(reverse("admin:gateways_gatewaybatchfile_change", args=[stored.pk]), {"cycle_code": "C-3"})
    delete = superuser_client.post(reverse("admin:gateways_gatewaybatchfile_delete", args=[stored.pk]), {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    stored.refresh_from_db()
    assert (stored.cycle_code, stored.uploaded_by) == ("C-2", finance_user)


def test_partner_refresh_tokens_are_not_in_the_back_office(superuser_client, tokens):
    # Given: a partner logged in, so an outstanding refresh token exists.
    # Then: simplejwt's token pages are not registered, and no page shows the token.
    assert superuser_client.get("/admin/token_blacklist/outstandingtoken/").status_code == 404
    assert superuser_client.get("/admin/token_blacklist/blacklistedtoken/").status_code == 404
    assert tokens["refreshToken"] not in superuser_client.get("/admin/").content.decode()

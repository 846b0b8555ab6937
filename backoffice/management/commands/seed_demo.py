from datetime import date

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import CommandError
from django.db import transaction

from accounts import services as accounts_services
from accounts.models import Customer, Partner, PartnerApiKey, PartnerCallbackPrefix, PartnerLink, User
from core.management.base import OperationsCommand
from core.masking import last_four
from gateways import selectors as gateway_selectors
from gateways import services as gateway_services
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Unit

# Public demo credentials: seed_demo refuses to run unless DEBUG is on.
DEMO_ACCESS_KEY_ID = "AKDEMOPCS001KEY00000"
DEMO_SECRET = "demo-secret-do-not-use-in-production"
DEMO_ADMIN = ("admin", "admin")
DEMO_CALLBACK_PREFIX = "http://127.0.0.1:8000/"
DEMO_SERVICE_ACCOUNT = ("hop.service@chargepay.example", "demo-hop-password-2026")
DEMO_CARD = ("1000000074340019", date(2030, 12, 31))
DEMO_RFID = "DEMO-RFID-0001"


class Command(OperationsCommand):
    help = (
        "Load demo data (idempotent): partner PCS-001 'MSP Partner' with an API key, a customer linked as "
        "pcsUserId001 with 100 km, a HOP service account and a HOP customer (linked as hopUser001) with a card "
        "on record and an RFID token, and a staff superuser admin/admin. Refused unless DEBUG is on."
    )

    @transaction.atomic
    def run(self, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo writes public demo credentials; it runs only with DEBUG=True")
        partner = Partner.objects.filter(code="PCS-001").first() or ledger_services.partner_create(
            code="PCS-001", name="MSP Partner"
        )
        if not PartnerApiKey.objects.filter(access_key_id=DEMO_ACCESS_KEY_ID).exists():
            accounts_services.api_key_create(partner=partner, label="demo", access_key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_SECRET)
        # The hosted link page may send the demo partner's customers back to make run's own server.
        PartnerCallbackPrefix.objects.get_or_create(partner=partner, prefix=DEMO_CALLBACK_PREFIX)
        customer = Customer.objects.filter(email__iexact="demo.driver@chargepay.example").first()
        if customer is None:
            customer = ledger_services.customer_create(email="demo.driver@chargepay.example", name="Demo Driver")
            ledger_services.kilometers_grant(customer=customer, kilometer=100, reason="seed_demo welcome kilometers")
        if not PartnerLink.objects.filter(partner=partner, external_user_id="pcsUserId001").exists():
            accounts_services.partner_link_create(
                partner=partner, external_user_id="pcsUserId001", customer=customer, confirmed=True
            )
        service_account = User.objects.filter(email__iexact=DEMO_SERVICE_ACCOUNT[0]).first()
        if service_account is None:
            service_account = accounts_services.service_account_create(
                partner=partner, email=DEMO_SERVICE_ACCOUNT[0], password=DEMO_SERVICE_ACCOUNT[1]
            )
        # The demo's tap system may comp too (README: the cents wallet).
        service_account.user_permissions.add(Permission.objects.get(codename="comp_wallet", content_type__app_label="wallet"))
        hop_customer = Customer.objects.filter(email__iexact="hop.customer@chargepay.example").first()
        if hop_customer is None:
            hop_customer = ledger_services.customer_create(email="hop.customer@chargepay.example", name="HOP Customer")
            accounts_services.partner_link_create(
                partner=partner, external_user_id="hopUser001", customer=hop_customer, confirmed=True
            )
            gateway_services.payment_method_store(
                customer=hop_customer, partner=partner, token=DEMO_CARD[0], expires_at=DEMO_CARD[1]
            )
            accounts_services.rfid_token_add(customer=hop_customer, token=DEMO_RFID)
        if not User.objects.filter(username=DEMO_ADMIN[0]).exists():
            User.objects.create_superuser(username=DEMO_ADMIN[0], password=DEMO_ADMIN[1], email="admin@chargepay.example")
        return {
            "partner": {"id": partner.pk, "code": partner.code, "name": partner.name},
            "apiKey": {"accessKeyId": DEMO_ACCESS_KEY_ID, "secretAccessKey": DEMO_SECRET},
            "customer": {
                "id": customer.pk,
                "email": customer.email,
                "userId": "pcsUserId001",
                "kmBalance": ledger_selectors.wallet_get(customer_id=customer.pk, unit=Unit.KM).balance,
            },
            "serviceAccount": {"id": service_account.pk, "email": DEMO_SERVICE_ACCOUNT[0], "password": DEMO_SERVICE_ACCOUNT[1]},
            "hopCustomer": {
                "id": hop_customer.pk,
                "email": hop_customer.email,
                "card": last_four(DEMO_CARD[0]),
                "rfid": DEMO_RFID,
                "centsBalance": gateway_selectors.cents_balance(customer_id=hop_customer.pk),
            },
            "admin": {"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]},
        }
